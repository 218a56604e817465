"""Timeout, index and session scripts on a real server and a real cluster (the job
scripts are tested through their store: test_job_store.py)."""

from __future__ import annotations

import asyncio

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

NOW = 1_700_000_000_000
TTL = 3_600_000


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
