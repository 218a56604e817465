"""Job, index and session scripts on a real server and a real cluster."""

from __future__ import annotations

import asyncio

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

NOW = 1_700_000_000_000
TTL = 3_600_000
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def job_keys(keys: Keys, job: str) -> list[str]:
    return [keys.job(job), keys.job_events(job)]


async def create(lua: LuaScripts, keys: Keys, job: str, request: str = "r1") -> list[object]:
    result: list[object] = await lua.run(
        "job_create",
        job_keys(keys, job),
        [
            NOW,
            request,
            b"spec",
            "trace1",
            "s1",
            3,
            "zh",
            "en",
            "tenant",
            "gw-a",
            TTL,
            3,
            TRACEPARENT,
        ],
    )
    return result


async def assign(lua: LuaScripts, keys: Keys, job: str, node: str, attempt: int) -> int:
    result = await lua.run(
        "job_assign", job_keys(keys, job), [node, attempt, NOW, NOW + 3000, "zh:en#0"]
    )
    return int(result[0])


async def finish(
    lua: LuaScripts,
    keys: Keys,
    job: str,
    *,
    state: str = "completed",
    node: str = "n1",
    attempt: int = 1,
) -> list[object]:
    result: list[object] = await lua.run(
        "job_finish",
        job_keys(keys, job),
        [NOW + 5, state, node, attempt, b"result", "", "", 600_000],
    )
    return result


async def abandon(
    lua: LuaScripts,
    keys: Keys,
    job: str,
    *,
    node: str,
    attempt: int,
    only_if_due: bool = False,
    counts: bool = True,
    now: int = NOW + 10,
    epoch: int | None = None,
) -> list[object]:
    result: list[object] = await lua.run(
        "job_abandon",
        job_keys(keys, job),
        [
            now,
            node,
            attempt,
            "JOB_TIMEOUT",
            "1" if only_if_due else "0",
            now + 10_000,
            600_000,
            "1" if counts else "0",
            "" if epoch is None else epoch,
        ],
    )
    return result


async def kinds(redis_client: RedisClient, keys: Keys, job: str) -> list[bytes]:
    return [fields[b"kind"] for _, fields in await redis_client.xrange(keys.job_events(job))]


async def test_concurrent_creators_of_one_request_get_one_job(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    results = await asyncio.gather(*(create(lua, keys, "j1") for _ in range(20)))
    assert len([r for r in results if r[0] == 1]) == 1
    assert all(r == [0, b"created", b"", 0, b"trace1"] for r in results if r[0] == 0)
    assert await kinds(redis_client, keys, "j1") == [b"created"]


async def test_the_record_keeps_the_trace_of_its_creation(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    assert await redis_client.hget(keys.job("j1"), "trace_parent") == TRACEPARENT.encode()


async def test_a_different_request_on_the_same_job_id_is_refused(
    lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1", request="r1")
    assert await create(lua, keys, "j1", request="r2") == [-1, b"r1"]


async def test_assign_accepts_only_the_next_attempt_of_an_unassigned_job(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    assert await assign(lua, keys, "j1", "n1", 2) == 0
    assert await assign(lua, keys, "j1", "n1", 1) == 1
    assert await assign(lua, keys, "j1", "n2", 2) == 0  # running on n1: no second attempt
    assert await assign(lua, keys, "j1", "n2", 1) == 0  # an older copy cannot overwrite
    record = await redis_client.hgetall(keys.job("j1"))
    assert (record[b"node_id"], record[b"attempt"], record[b"state"]) == (
        b"n1",
        b"1",
        b"dispatched",
    )
    assert record[b"due_ms"] == str(NOW + 3000).encode()


async def test_confirm_moves_the_deadline_once_and_only_for_the_live_attempt(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)

    async def confirm(node: str, attempt: int, due: int, what: str) -> list[object]:
        result: list[object] = await lua.run(
            "job_confirm", job_keys(keys, "j1"), [node, attempt, NOW, due, what]
        )
        return result

    assert await confirm("n2", 1, NOW + 15_000, "delivered") == [0, b"stale"]
    assert await confirm("n1", 1, NOW + 15_000, "delivered") == [1, NOW + 15_000]
    # A later sign of life neither extends the deadline again nor resets it.
    assert await confirm("n1", 0, NOW + 99_000, "accepted") == [1, NOW + 15_000]
    assert await redis_client.hget(keys.job("j1"), "state") == b"accepted"
    assert await kinds(redis_client, keys, "j1") == [b"created", b"dispatched", b"accepted"]


async def test_finish_is_fenced_by_node_and_attempt_and_happens_once(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
    assert (await abandon(lua, keys, "j1", node="n1", attempt=1))[0] == 1
    await assign(lua, keys, "j1", "n2", 2)
    assert await finish(lua, keys, "j1", node="n1", attempt=1) == [0, b"stale"]
    assert await finish(lua, keys, "j1", node="n2", attempt=2) == [
        1,
        b"s1",
        b"3",
        b"trace1",
        b"n2",
        2,
        b"gw-a",
        str(NOW).encode(),
    ]
    assert await finish(lua, keys, "j1", node="n2", attempt=2) == [0, b"completed"]
    record = await redis_client.hgetall(keys.job("j1"))
    assert record[b"state"] == b"completed"
    assert b"spec" not in record  # the audio is dropped once the job is terminal
    assert 0 < await redis_client.pttl(keys.job("j1")) <= 600_000
    assert (await kinds(redis_client, keys, "j1"))[-1] == b"completed"


async def test_finish_of_an_unknown_job_reports_missing(lua: LuaScripts, keys: Keys) -> None:
    assert await finish(lua, keys, "ghost") == [0, b"missing"]


async def test_an_abandoned_attempt_is_refused_and_its_node_excluded(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
    assert await abandon(lua, keys, "j1", node="n1", attempt=1) == [1, b"n1", 1, b"n1"]
    record = await redis_client.hgetall(keys.job("j1"))
    assert (record[b"state"], record[b"node_id"], record[b"excluded"]) == (b"pending", b"", b"n1")
    # The late result of the abandoned attempt changes nothing.
    assert await finish(lua, keys, "j1", node="n1", attempt=1) == [0, b"stale"]
    assert await abandon(lua, keys, "j1", node="n1", attempt=1) == [0, b"pending"]


async def test_a_node_is_excluded_with_the_epoch_of_its_connection(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
    assert await abandon(lua, keys, "j1", node="n1", attempt=1, epoch=4) == [1, b"n1", 1, b"n1@4"]
    await assign(lua, keys, "j1", "n1", 2)  # n1 registered again (epoch 5) and took it
    assert await abandon(lua, keys, "j1", node="n1", attempt=2, epoch=5) == [
        1,
        b"n1",
        2,
        b"n1@4,n1@5",
    ]
    assert await redis_client.hget(keys.job("j1"), "excluded") == b"n1@4,n1@5"


async def test_the_last_attempt_fails_the_job_for_good(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    for attempt, node in enumerate(["n1", "n2"], start=1):
        await assign(lua, keys, "j1", node, attempt)
        assert (await abandon(lua, keys, "j1", node=node, attempt=attempt))[0] == 1
    await assign(lua, keys, "j1", "n3", 3)
    assert await abandon(lua, keys, "j1", node="n3", attempt=3) == [
        2,
        b"n3",
        3,
        b"s1",
        b"3",
        b"trace1",
        b"gw-a",
    ]
    record = await redis_client.hgetall(keys.job("j1"))
    assert (record[b"state"], record[b"error_code"]) == (b"failed", b"JOB_TIMEOUT")
    assert record[b"excluded"] == b"n1,n2,n3"


async def test_an_undelivered_attempt_does_not_use_up_an_attempt(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    for _ in range(5):  # more than max_attempts: none of them reached a node
        assert await assign(lua, keys, "j1", "n1", 1) == 1
        assert (await abandon(lua, keys, "j1", node="n1", attempt=1, counts=False))[0] == 1
    assert await redis_client.hget(keys.job("j1"), "attempt") == b"0"
    assert await redis_client.hget(keys.job("j1"), "state") == b"pending"


async def test_abandon_if_due_respects_the_deadline(lua: LuaScripts, keys: Keys) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)  # due at NOW + 3000
    early = await abandon(lua, keys, "j1", node="", attempt=0, only_if_due=True, now=NOW + 2999)
    assert early == [0, b"not due"]
    late = await abandon(lua, keys, "j1", node="", attempt=0, only_if_due=True, now=NOW + 3000)
    assert late[0] == 1


async def test_timeouts_are_leased_to_one_claimer_and_come_back_if_not_handled(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    bucket = keys.timeouts(0)
    await redis_client.zadd(bucket, {"j1": NOW - 1, "j2": NOW, "j3": NOW + 1})
    claims = await asyncio.gather(
        *(lua.run("timeouts_claim", [bucket], [NOW, 5000, 10]) for _ in range(5))
    )
    claimed = [job for claim in claims for job in claim]
    assert sorted(claimed) == [b"j1", b"j2"]  # each due entry once; j3 is not due
    assert await lua.run("timeouts_claim", [bucket], [NOW + 4999, 5000, 10]) == [b"j3"]
    # Nobody removed j1 and j2: their lease runs out and they come due again.
    assert sorted(await lua.run("timeouts_claim", [bucket], [NOW + 5000, 5000, 10])) == [
        b"j1",
        b"j2",
    ]


async def test_index_upsert_bumps_version_only_on_change_and_refuses_older_updates(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    index_keys = [keys.index_nodes(), keys.index_version(), keys.index_changes(), keys.index_seqs()]

    async def put(entry: bytes, seq: int) -> list[object]:
        result: list[object] = await lua.run("index_upsert", index_keys, ["n1", entry, 1000, seq])
        return result

    assert await put(b'{"a":1}', 1) == [1, 1, 1]
    assert await put(b'{"a":1}', 2) == [0, 1, 1]  # same entry: no version bump
    assert await put(b'{"a":2}', 3) == [1, 2, 1]
    assert await put(b"", 5) == [1, 3, 1]
    # A late upsert (seq 4) after the removal (seq 5) must not bring the node back.
    assert await put(b'{"a":2}', 4) == [0, 3, 0]
    assert await put(b"", 6) == [0, 3, 1]
    assert await redis_client.hget(keys.index_nodes(), "n1") is None
    feed = await redis_client.xrange(keys.index_changes())
    assert [entry[0] for entry in feed] == [b"1-0", b"2-0", b"3-0"]
    assert [entry[1][b"v"] for entry in feed] == [b"1", b"2", b"3"]


async def test_session_open_resets_preferred_pool_on_pair_change_and_close_releases_owner(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    session_keys = [keys.session("s1"), keys.session_owner("s1")]
    channel = keys.session_channel()
    assert (
        await lua.run(
            "session_open", session_keys, [NOW, "zh", "en", "gw-a", 30_000, TTL, "", channel]
        )
        == 1
    )
    await redis_client.hset(keys.session("s1"), "preferred_pool", "zh:en")
    await lua.run("session_open", session_keys, [NOW, "zh", "en", "gw-a", 30_000, TTL, "", channel])
    assert await redis_client.hget(keys.session("s1"), "preferred_pool") == b"zh:en"
    assert (
        await lua.run(
            "session_open", session_keys, [NOW, "zh", "de", "gw-a", 30_000, TTL, "", channel]
        )
        == 3
    )
    assert await redis_client.hget(keys.session("s1"), "preferred_pool") is None
    assert await redis_client.get(keys.session_owner("s1")) == b"gw-a"
    close = [NOW, "gw-b", 60_000, channel]
    assert await lua.run("session_close", session_keys, close) == 1
    assert await redis_client.get(keys.session_owner("s1")) == b"gw-a"  # not gw-b's to release
    assert await lua.run("session_close", session_keys, [NOW, "gw-a", 60_000, channel]) == 0
    assert await redis_client.get(keys.session_owner("s1")) is None
    assert await redis_client.hget(keys.session("s1"), "state") == b"closed"
