"""Job creation against a real store when placement loses a race (single server and cluster).

The deadline sweeper may retry a first attempt that stalled (a Redis failover) while
its creator is still placing it; the creator then finds the job moved on. It must report
the job as it stands, never fail a job that another attempt now runs.
"""

from __future__ import annotations

from typing import Any

from lingua.common.v1 import job_pb2
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher.domain import Dispatcher
from services.dispatcher.model import JobState
from services.dispatcher.placement import Outcome, Placed, Ticket
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import TIMEOUT_BUCKETS, RedisJobStore

NOW = 1_700_000_000_000


class RacedPlacer:
    """Another attempt takes the job between this creator's lookup and its assignment."""

    def __init__(self, store: RedisJobStore) -> None:
        self._store = store

    async def candidates(self, ticket: Ticket) -> list[Any]:
        return []

    async def place(self, ticket: Ticket, attempt: int, first: object = None) -> Placed:
        assert await self._store.assign(
            ticket.job_id, "node-other", attempt, now_ms=NOW, due_ms=NOW + 3000, pool_id=""
        )
        return Placed(Outcome.SUPERSEDED, attempt)


def spec() -> job_pb2.JobSpec:
    return job_pb2.JobSpec(
        session_id="s1", utterance_index=0, src_lang="zh", tgt_lang="en", audio=b"x"
    )


async def test_a_superseded_first_placement_reports_the_job_as_it_stands(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    store = RedisJobStore(redis_client, lua, keys, live_ttl_ms=60_000, retention_ms=60_000)
    # Recovery and notifier are never reached on this path.
    dispatcher = Dispatcher(
        store,
        RacedPlacer(store),  # type: ignore[arg-type]
        recovery=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
        clock=ManualClock(NOW),
        settings=DispatcherSettings(),
    )
    placement = await dispatcher.create_job("r1", spec(), "gw-a")
    assert placement.created
    assert (placement.state, placement.node_id, placement.error_code) == (
        JobState.DISPATCHED,
        "node-other",
        "",
    )
    record = await store.get(placement.job_id)
    assert record is not None and record.state is JobState.DISPATCHED  # not failed


async def test_creation_arms_a_deadline_before_anything_else(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    """A creation cut short right after the record exists is still found by the sweeper."""
    store = RedisJobStore(redis_client, lua, keys, live_ttl_ms=60_000, retention_ms=60_000)
    dispatcher = Dispatcher(
        store,
        RacedPlacer(store),  # type: ignore[arg-type]
        recovery=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
        clock=ManualClock(NOW),
        settings=DispatcherSettings(reservation_ttl_ms=3000),
    )
    placement = await dispatcher.create_job("r2", spec(), "gw-a")
    due: list[str] = []
    for bucket in range(TIMEOUT_BUCKETS):
        due += await store.claim_due(bucket, NOW + 3000, 1000, 100)
    assert placement.job_id in due
