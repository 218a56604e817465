"""The slot audit on a real server and a real cluster: leaked slots are freed on the
second look, held ones never, over many pages of nodes read one round trip per page."""

from __future__ import annotations

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher import slot_audit
from services.dispatcher.model import JobState
from services.dispatcher.slot_audit import SlotAudit
from services.dispatcher.store import RedisJobStore

NOW = 1_700_000_000_000
NODES = 30


@pytest.fixture
def store(redis_client: RedisClient, lua: LuaScripts, keys: Keys) -> RedisJobStore:
    return RedisJobStore(redis_client, lua, keys, live_ttl_ms=60_000, retention_ms=60_000)


async def job(store: RedisJobStore, job_id: str, node_id: str = "") -> None:
    await store.create(
        job_id,
        now_ms=NOW,
        request_id=job_id,
        spec=b"spec",
        trace_id=f"trace-{job_id}",
        session_id="s1",
        utterance_index=0,
        src_lang="zh",
        tgt_lang="en",
        tenant_id="",
        reply_to="gw-a",
        max_attempts=3,
    )
    if node_id:
        assert await store.assign(
            job_id, node_id, 1, now_ms=NOW, due_ms=NOW + 15_000, pool_id="zh:en#0"
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
    assert await store.finish("done", JobState.COMPLETED, now_ms=NOW, node_id="n1", attempt=1)
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

    async def slot_freed(node_id: str) -> None:
        freed_on.append(node_id)

    audit = SlotAudit(store, slot_freed, interval_ms=15_000)
    assert await audit.audit_once() == 0  # first look: only suspects
    assert await store.assign("between", "n5", 1, now_ms=NOW, due_ms=NOW + 1, pool_id="p")
    assert await audit.audit_once() == 3
    assert sorted(freed_on) == ["n1", "n2", "n3"]
    assert await slots(redis_client, keys) == {
        "n0": {"live"},
        "n29": {"live2"},
        "n5": {"between"},
    }
    assert await audit.audit_once() == 0
