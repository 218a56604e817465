"""Job, index and session scripts on a real server and a real cluster."""

from __future__ import annotations

import asyncio

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

NOW = 1_700_000_000_000
TTL = 3_600_000


async def create(lua: LuaScripts, keys: Keys, job: str, request: str = "r1") -> list[object]:
    result: list[object] = await lua.run(
        "job_create",
        [keys.job(job)],
        [NOW, request, b"spec", "trace1", "s1", 3, "zh", "en", "tenant", "gw-a", TTL],
    )
    return result


async def assign(lua: LuaScripts, keys: Keys, job: str, node: str, attempt: int) -> int:
    return int((await lua.run("job_assign", [keys.job(job)], [node, attempt, NOW]))[0])


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
        [keys.job(job)],
        [NOW + 5, state, node, attempt, b"result", "", "", 600_000],
    )
    return result


async def test_concurrent_creators_of_one_request_get_one_job(lua: LuaScripts, keys: Keys) -> None:
    results = await asyncio.gather(*(create(lua, keys, "j1") for _ in range(20)))
    created = [r for r in results if r[0] == 1]
    assert len(created) == 1
    assert all(r == [0, b"created", b"", 0, b"trace1"] for r in results if r[0] == 0)


async def test_a_different_request_on_the_same_job_id_is_refused(
    lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1", request="r1")
    assert await create(lua, keys, "j1", request="r2") == [-1, b"r1"]


async def test_assign_accepts_only_the_next_attempt(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    assert await assign(lua, keys, "j1", "n1", 2) == 0
    assert await assign(lua, keys, "j1", "n1", 1) == 1
    assert await assign(lua, keys, "j1", "n2", 1) == 0  # an older copy cannot overwrite
    assert await assign(lua, keys, "j1", "n2", 2) == 1
    record = await redis_client.hgetall(keys.job("j1"))
    assert (record[b"node_id"], record[b"attempt"], record[b"state"]) == (
        b"n2",
        b"2",
        b"dispatched",
    )


async def test_finish_is_fenced_by_node_and_attempt_and_happens_once(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
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


async def test_finish_of_an_unknown_job_reports_missing(lua: LuaScripts, keys: Keys) -> None:
    assert await finish(lua, keys, "ghost") == [0, b"missing"]


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
