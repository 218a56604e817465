"""The slot audit on a real server and a real cluster: leaked slots are freed on the
second look, held ones never, over many pages of nodes read one round trip per page."""

from __future__ import annotations

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher import slot_audit
from services.dispatcher.model import Connection, JobState
from services.dispatcher.slot_audit import SlotAudit
from services.dispatcher.store import FirstAttempt, RedisJobStore
from tests.redis.jobs import new_job

NOW = 1_700_000_000_000
NODES = 30


@pytest.fixture
def store(redis_client: RedisClient, lua: LuaScripts, keys: Keys) -> RedisJobStore:
    return RedisJobStore(redis_client, lua, keys, live_ttl_ms=60_000, retention_ms=60_000)


async def job(store: RedisJobStore, job_id: str, node_id: str = "") -> None:
    await store.create(
        new_job(job_id),
        now_ms=NOW,
        due_ms=NOW + 15_000,
        first=FirstAttempt(node_id, 1, "zh:en#0") if node_id else None,
    )


async def slot(redis_client: RedisClient, keys: Keys, node_id: str, job_id: str) -> None:
    await redis_client.hset(keys.node_inflight(node_id), job_id, 1)


async def slots(redis_client: RedisClient, keys: Keys) -> dict[str, set[str]]:
    held = {}
    for i in range(NODES):
        jobs = await redis_client.hkeys(keys.node_inflight(f"n{i}"))
        if jobs:
            held[f"n{i}"] = {j.decode() for j in jobs}
    return held


async def test_leaked_slots_are_freed_on_the_second_look_and_held_ones_stay(
    store: RedisJobStore,
    redis_client: RedisClient,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slot_audit, "NODES_PER_PAGE", 7)  # several pages of nodes
    await redis_client.sadd(keys.nodes_all(), *[f"n{i}" for i in range(NODES)])
    await job(store, "live", "n0")
    await job(store, "live2", "n29")
    await job(store, "done", "n1")
    finished, _ = await store.finish_and_release(
        "done",
        JobState.COMPLETED,
        now_ms=NOW,
        node_id="n1",
        attempt=1,
        result=b"",
        error_code="",
        error_message="",
        follow_up_due_ms=NOW + 5_000,
    )
    assert finished is not None
    await job(store, "moved", "n4")  # a slot for it stayed on n3
    await job(store, "between")  # reserved on n5, not yet assigned
    for node_id, job_id in [
        ("n0", "live"),
        ("n29", "live2"),
        ("n1", "done"),
        ("n2", "ghost"),  # no such job
        ("n3", "moved"),
        ("n5", "between"),
    ]:
        await slot(redis_client, keys, node_id, job_id)
    freed_on: list[str] = []

    async def release(node_id: str, job_id: str, attempt: int) -> bool:
        freed = await store.release(node_id, job_id, attempt)
        if freed:
            freed_on.append(node_id)
        return freed

    audit = SlotAudit(store, release, interval_ms=15_000)
    assert await audit.audit_once() == 0  # first look: only suspects
    assert await store.assign(
        "between", Connection("n5", 1), 1, now_ms=NOW, due_ms=NOW + 1, pool_id="p"
    )
    assert await audit.audit_once() == 3
    assert sorted(freed_on) == ["n1", "n2", "n3"]
    assert await slots(redis_client, keys) == {
        "n0": {"live"},
        "n29": {"live2"},
        "n5": {"between"},
    }
    assert await audit.audit_once() == 0
