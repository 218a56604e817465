"""Node scripts on a real server and a real cluster: epochs, heartbeats, offline, slots."""

from __future__ import annotations

import asyncio

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

NOW = 1_700_000_000_000
OWNER_TTL = 60_000
ALIVE = 45_000
RECORD_TTL = 3_600_000


HISTORY = 5
FAIL_LIMIT = 3
COOLDOWN = 60_000


def node_keys(keys: Keys, node: str) -> list[str]:
    return [keys.node(node), keys.node_owner(node), keys.node_history(node)]


async def claim(
    lua: LuaScripts, keys: Keys, node: str, *, now: int = NOW, cred: str = "", gateway: str = "gw-a"
) -> list[object]:
    args = [now, gateway, b"desc", 2, cred, OWNER_TTL, ALIVE, RECORD_TTL, b"lang", "asr,nmt"]
    result: list[object] = await lua.run(
        "node_claim", node_keys(keys, node), [*args, HISTORY, FAIL_LIMIT, "1"]
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
    gpu: bool = False,
) -> list[object]:
    """(status, previous status, index_seq, language caps) of one heartbeat."""
    result: list[object] = await lua.run(
        "node_heartbeat",
        node_keys(keys, node),
        [
            epoch,
            now,
            b"usage",
            "" if healthy else "sick",
            "1" if gpu else "0",
            1,
            lang,
            ready,
            OWNER_TTL,
            RECORD_TTL,
            FAIL_LIMIT,
            COOLDOWN,
            HISTORY,
        ],
    )
    return result[:4]


async def reserve(lua: LuaScripts, keys: Keys, node: str, job: str, attempt: int = 1) -> int:
    result = await lua.run(
        "slot_reserve", [keys.node(node), keys.node_inflight(node)], [job, attempt, NOW]
    )
    return int(result[0])


async def release(
    lua: LuaScripts,
    keys: Keys,
    node: str,
    job: str,
    attempt: int = 1,
    outcome: str = "none",
    now: int = NOW,
) -> int:
    result = await lua.run(
        "slot_release",
        [keys.node_inflight(node), keys.node(node), keys.node_history(node)],
        [job, attempt, outcome, now],
    )
    return int(result[0])


async def test_claim_issues_increasing_epochs_and_owner(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    first = await claim(lua, keys, "n1")
    second = await claim(lua, keys, "n1", gateway="gw-b")
    assert first == [1, b"", b"", 1]
    assert second == [2, b"registering", b"gw-a", 2]
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
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    assert await beat(lua, keys, "n1", 1) == [b"ready", b"registering", 0, b""]
    # Same capabilities again: nothing to re-index.
    assert await beat(lua, keys, "n1", 1) == [b"ready", b"ready", 0, b""]
    # Changed language capabilities bump the index sequence and are handed back.
    assert await beat(lua, keys, "n1", 1, lang=b"lang2") == [b"ready", b"ready", 2, b"lang2"]
    assert (await beat(lua, keys, "n1", 1, ready="asr"))[2] == 3
    degraded = await beat(lua, keys, "n1", 1, healthy=False, ready="asr")
    assert degraded == [b"degraded", b"ready", 0, b""]
    assert (await beat(lua, keys, "n1", 1, ready="asr"))[:2] == [b"ready", b"degraded"]
    history = await redis_client.lrange(keys.node_history("n1"), 0, -1)
    statuses = [entry.split(b" ", 2)[1] for entry in history]
    assert statuses == [b"ready", b"degraded", b"ready", b"registering"]
    assert history[1].endswith(b"degraded sick")


async def test_history_is_capped(lua: LuaScripts, keys: Keys, redis_client: RedisClient) -> None:
    await claim(lua, keys, "n1")
    for _ in range(10):
        await beat(lua, keys, "n1", 1)
        await beat(lua, keys, "n1", 1, healthy=False)
    assert await redis_client.llen(keys.node_history("n1")) == HISTORY


async def test_a_vanished_gpu_degrades_the_node(lua: LuaScripts, keys: Keys) -> None:
    await claim(lua, keys, "n1")
    assert (await beat(lua, keys, "n1", 1, gpu=True))[0] == b"ready"
    assert (await beat(lua, keys, "n1", 1, gpu=False))[0] == b"degraded"
    assert (await beat(lua, keys, "n1", 1, gpu=True))[0] == b"ready"


async def test_repeated_job_failures_degrade_until_the_cooldown(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1)
    for i in range(FAIL_LIMIT):
        assert await reserve(lua, keys, "n1", f"j{i}") == 1
        assert await release(lua, keys, "n1", f"j{i}", outcome="fail", now=NOW + i) == 1
    record = await redis_client.hgetall(keys.node("n1"))
    assert (record[b"status"], record[b"status_reason"]) == (b"degraded", b"repeated job failures")
    assert (await beat(lua, keys, "n1", 1, now=NOW + 1000))[0] == b"degraded"
    assert (await beat(lua, keys, "n1", 1, now=NOW + COOLDOWN + 10))[0] == b"ready"


async def test_a_success_resets_the_failure_streak(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1)
    for i, outcome in enumerate(["fail", "fail", "ok", "fail", "fail"]):
        await reserve(lua, keys, "n1", f"j{i}")
        await release(lua, keys, "n1", f"j{i}", outcome=outcome)
    assert await redis_client.hget(keys.node("n1"), "status") == b"ready"


async def test_stale_epoch_heartbeat_and_offline_change_nothing(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1", gateway="gw-a")
    await claim(lua, keys, "n1", gateway="gw-b")
    assert await beat(lua, keys, "n1", 1) == [b"stale"]
    assert await lua.run(
        "node_offline", node_keys(keys, "n1"), [1, NOW, "socket closed", 0, HISTORY]
    ) == [0, 2, 0]
    record = await redis_client.hgetall(keys.node("n1"))
    assert record[b"status"] == b"registering"
    assert await redis_client.get(keys.node_owner("n1")) == b"gw-b 2"


async def test_offline_is_idempotent_and_cannot_be_revived_by_a_late_beat(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    offline_keys = node_keys(keys, "n1")
    assert await lua.run("node_offline", offline_keys, [1, NOW, "gone", 0, HISTORY]) == [1, 1, 2]
    assert await lua.run("node_offline", offline_keys, [1, NOW, "gone", 0, HISTORY]) == [0, 1, 0]
    assert await beat(lua, keys, "n1", 1) == [b"offline"]
    assert await redis_client.hget(keys.node("n1"), "status") == b"offline"
    assert await redis_client.get(keys.node_owner("n1")) is None


async def test_sweep_fence_spares_a_node_heard_from_since(lua: LuaScripts, keys: Keys) -> None:
    await claim(lua, keys, "n1")
    await beat(lua, keys, "n1", 1, now=NOW + 10_000)
    # The sweeper read it as stale before NOW + 5000, but it beat at NOW + 10000.
    early = [0, NOW + 20_000, "timeout", NOW + 5_000, HISTORY]
    assert await lua.run("node_offline", node_keys(keys, "n1"), early) == [0, 1, 0]
    late = [0, NOW + 60_000, "timeout", NOW + 15_000, HISTORY]
    assert await lua.run("node_offline", node_keys(keys, "n1"), late) == [1, 1, 2]


async def test_reserve_respects_max_and_status_and_release_is_exactly_once(
    lua: LuaScripts, keys: Keys, redis_client: RedisClient
) -> None:
    await claim(lua, keys, "n1")
    assert await reserve(lua, keys, "n1", "j1") == -1  # still registering
    await beat(lua, keys, "n1", 1)
    assert await reserve(lua, keys, "n1", "j1") == 1
    assert await reserve(lua, keys, "n1", "j1") == 2  # same attempt again: held already
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
    drain = [NOW, "operator", HISTORY]
    assert await lua.run("node_drain", [keys.node("n1"), keys.node_history("n1")], drain) == [
        1,
        b"ready",
        1,
    ]
    assert await reserve(lua, keys, "n1", "j1") == -1
    assert (await beat(lua, keys, "n1", 1))[0] == b"draining"
    ghost = [keys.node("ghost"), keys.node_history("ghost")]
    assert await lua.run("node_drain", ghost, drain) == [0, b"unknown", 0]
