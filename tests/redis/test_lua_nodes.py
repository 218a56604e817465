"""Node scripts on a real server and a real cluster: epochs, heartbeats, offline, slots."""

from __future__ import annotations

import asyncio

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

NOW = 1_700_000_000_000
OWNER_TTL = 60_000
ALIVE = 45_000
RECORD_TTL = 3_600_000


async def claim(
    lua: LuaScripts, keys: Keys, node: str, *, now: int = NOW, cred: str = "", gateway: str = "gw-a"
) -> list[object]:
    result: list[object] = await lua.run(
        "node_claim",
        [keys.node(node), keys.node_owner(node)],
        [now, gateway, b"desc", 2, cred, OWNER_TTL, ALIVE, RECORD_TTL, b"lang", "asr,nmt"],
    )
    return result


async def beat(
    lua: LuaScripts,
    keys: Keys,
    node: str,
    epoch: int,
    *,
    now: int = NOW,
    healthy: bool = True,
    lang: bytes = b"",
    ready: str = "asr,nmt",
) -> list[object]:
    result: list[object] = await lua.run(
        "node_heartbeat",
        [keys.node(node), keys.node_owner(node)],
        [
            epoch,
            now,
            b"usage",
            "1" if healthy else "0",
            "" if healthy else "sick",
            1,
            lang,
            OWNER_TTL,
            RECORD_TTL,
            ready,
        ],
    )
    return result


async def reserve(lua: LuaScripts, keys: Keys, node: str, job: str, attempt: int = 1) -> int:
    result = await lua.run(
        "slot_reserve", [keys.node(node), keys.node_inflight(node)], [job, attempt, NOW]
    )
    return int(result[0])


async def release(lua: LuaScripts, keys: Keys, node: str, job: str, attempt: int = 1) -> int:
    result = await lua.run("slot_release", [keys.node_inflight(node)], [job, attempt])
    return int(result[0])


async def test_claim_issues_increasing_epochs_and_owner(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    first = await claim(lua, keys, "n1")
    second = await claim(lua, keys, "n1", gateway="gw-b")
    assert first == [1, b""]
    assert second == [2, b"registering"]
    assert await redis_client.get(keys.node_owner("n1")) == b"gw-b 2"
    record = await redis_client.hgetall(keys.node("n1"))
    assert record[b"status"] == b"registering"
    assert record[b"gateway"] == b"gw-b"
    assert 0 < await redis_client.pttl(keys.node("n1")) <= RECORD_TTL


async def test_claim_refuses_live_holder_with_other_credential(lua: LuaScripts, keys: Keys) -> None:
    assert (await claim(lua, keys, "n1", cred="alice"))[0] == 1
    assert await claim(lua, keys, "n1", cred="mallory", now=NOW + 1000) == [-1, b"NODE_ID_CONFLICT"]
    # The rightful holder may always take over; a silent holder's id is free again.
    assert (await claim(lua, keys, "n1", cred="alice", now=NOW + 2000))[0] == 2
    assert (await claim(lua, keys, "n1", cred="mallory", now=NOW + 2000 + ALIVE))[0] == 3


async def test_heartbeat_promotes_to_ready_and_flags_capability_changes(
    lua: LuaScripts, keys: Keys
) -> None:
    await claim(lua, keys, "n1")
    assert await beat(lua, keys, "n1", 1) == [b"ready", b"registering", 0, b""]
    # Same capabilities again: nothing to re-index.
    assert await beat(lua, keys, "n1", 1) == [b"ready", b"ready", 0, b""]
    changed = await beat(lua, keys, "n1", 1, lang=b"lang2")
    assert changed == [b"ready", b"ready", 1, b"lang2"]
    assert (await beat(lua, keys, "n1", 1, ready="asr"))[2] == 1
    assert await beat(lua, keys, "n1", 1, healthy=False, ready="asr") == [
        b"degraded",
        b"ready",
        0,
        b"",
    ]
    assert (await beat(lua, keys, "n1", 1, ready="asr"))[:2] == [b"ready", b"degraded"]


async def test_stale_epoch_heartbeat_and_offline_change_nothing(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1", gateway="gw-a")
    await claim(lua, keys, "n1", gateway="gw-b")
    assert await beat(lua, keys, "n1", 1) == [b"stale"]
    assert await lua.run(
        "node_offline", [keys.node("n1"), keys.node_owner("n1")], [1, NOW, "socket closed", 0]
    ) == [0, 2]
    record = await redis_client.hgetall(keys.node("n1"))
    assert record[b"status"] == b"registering"
    assert await redis_client.get(keys.node_owner("n1")) == b"gw-b 2"


async def test_offline_is_idempotent_and_cannot_be_revived_by_a_late_beat(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    offline_keys = [keys.node("n1"), keys.node_owner("n1")]
    assert await lua.run("node_offline", offline_keys, [1, NOW, "gone", 0]) == [1, 1]
    assert await lua.run("node_offline", offline_keys, [1, NOW, "gone", 0]) == [0, 1]
    assert await beat(lua, keys, "n1", 1) == [b"offline"]
    assert await redis_client.hget(keys.node("n1"), "status") == b"offline"
    assert await redis_client.get(keys.node_owner("n1")) is None


async def test_sweep_fence_spares_a_node_heard_from_since(lua: LuaScripts, keys: Keys) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1, now=NOW + 10_000)
    offline_keys = [keys.node("n1"), keys.node_owner("n1")]
    # The sweeper read it as stale before NOW + 5000, but it beat at NOW + 10000.
    assert await lua.run(
        "node_offline", offline_keys, [0, NOW + 20_000, "timeout", NOW + 5_000]
    ) == [0, 1]
    assert await lua.run(
        "node_offline", offline_keys, [0, NOW + 60_000, "timeout", NOW + 15_000]
    ) == [1, 1]


async def test_reserve_respects_max_and_status_and_release_is_exactly_once(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    assert await reserve(lua, keys, "n1", "j1") == -1  # still registering
    await beat(lua, keys, "n1", 1)
    assert await reserve(lua, keys, "n1", "j1") == 1
    assert await reserve(lua, keys, "n1", "j1") == 1  # same attempt again: idempotent
    assert await reserve(lua, keys, "n1", "j1", attempt=2) == -2
    assert await reserve(lua, keys, "n1", "j2") == 1
    assert await reserve(lua, keys, "n1", "j3") == 0  # max_jobs = 2
    assert await redis_client.hlen(keys.node_inflight("n1")) == 2
    assert await release(lua, keys, "n1", "j1", attempt=2) == 0
    assert await release(lua, keys, "n1", "j1") == 1
    assert await release(lua, keys, "n1", "j1") == 0
    assert await redis_client.hlen(keys.node_inflight("n1")) == 1


async def test_concurrent_reservations_never_exceed_max(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1)
    results = await asyncio.gather(*(reserve(lua, keys, "n1", f"j{i}") for i in range(50)))
    assert sorted(results) == [0] * 48 + [1, 1]
    assert await redis_client.hlen(keys.node_inflight("n1")) == 2


async def test_drain_stops_new_reservations(lua: LuaScripts, keys: Keys) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1)
    assert await lua.run("node_drain", [keys.node("n1")], [NOW, "operator"]) == [1, b"ready"]
    assert await reserve(lua, keys, "n1", "j1") == -1
    assert (await beat(lua, keys, "n1", 1))[0] == b"draining"
    assert await lua.run("node_drain", [keys.node("ghost")], [NOW, "operator"]) == [0, b"unknown"]
