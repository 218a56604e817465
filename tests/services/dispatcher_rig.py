"""The dispatcher's job path assembled over a real Redis, without its gRPC front: what
each transition wrote, and what it queued for each gateway, can be read directly.

Gateways are their outboxes (links.py): a test reads what a gateway would receive and
acknowledges it (or not) as that gateway would. The language index is the dispatcher's
own in-memory replica, filled directly; time is a ManualClock.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex, NodeEntry
from lingua_common.link import LinkLimits, Outgoing
from lingua_common.redis_client import LuaScripts, RedisClient, connect, initialize
from lingua_common.settings import RedisSettings
from services.dispatcher.acks import AckWork
from services.dispatcher.affinity import Affinity
from services.dispatcher.deliveries import Deliveries
from services.dispatcher.index_replica import ReplicatedCandidateFinder
from services.dispatcher.intake import JobIntake
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.links import GatewayLinks
from services.dispatcher.loads import LoadEstimates
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import JobRecord
from services.dispatcher.node_reports import NodeReports
from services.dispatcher.owners import NodeOwners
from services.dispatcher.pending import PendingQueues
from services.dispatcher.placement import Placer
from services.dispatcher.pool_client import Candidate
from services.dispatcher.recovery import Recovery
from services.dispatcher.retries import Retries
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.slot_audit import SlotAudit
from services.dispatcher.store import RedisJobStore
from services.dispatcher.waiting import WaitingJobs

SESSION_GATEWAY = "gw-s"
NODE_GATEWAY = "gw-n"
PAIR = ("zh", "en")


@dataclass
class SyncedIndex:
    """The dispatcher's replica of the index, in step (filled by the test)."""

    index: LanguageIndex
    synced: bool = True


class NobodyElse:
    """The pool service behind the replica, asked only when the replica finds nobody:
    in these tests the replica holds the whole index, so the answer is nobody."""

    async def find(self, *args: Any, **kwargs: Any) -> list[Candidate]:
        return []


@dataclass
class Rig:
    redis: RedisClient
    keys: Keys
    clock: ManualClock
    settings: DispatcherSettings
    store: RedisJobStore
    queues: PendingQueues
    links: GatewayLinks
    owners: NodeOwners
    loads: LoadEstimates
    acks: AckWork
    lifecycle: JobLifecycle
    placer: Placer
    waiting: WaitingJobs
    retries: Retries
    intake: JobIntake
    reports: NodeReports
    recovery: Recovery
    audit: SlotAudit
    index: LanguageIndex
    _version: int = field(default=0)

    # --- the fleet ------------------------------------------------------------------------

    async def node(
        self, node_id: str, epoch: int = 1, gateway: str = NODE_GATEWAY, max_jobs: int = 2
    ) -> None:
        """A ready node (as the registry records it), held by `gateway`, in the index."""
        await self.redis.hset(
            self.keys.node(node_id), mapping={"status": "ready", "max_jobs": max_jobs}
        )
        await self.redis.sadd(self.keys.nodes_all(), node_id)
        self.owners.linked(gateway)
        self.owners.held(gateway, node_id, epoch)
        self._version += 1
        self.index.apply(
            node_id, NodeEntry(frozenset({PAIR}), frozenset({"asr", "nmt"})), self._version
        )

    def reconnected(self, node_id: str, epoch: int, gateway: str = NODE_GATEWAY) -> None:
        self.owners.held(gateway, node_id, epoch)

    async def running(self, node_id: str) -> int:
        return int(await self.redis.hlen(self.keys.node_inflight(node_id)))

    # --- what gateways receive ------------------------------------------------------------

    def sent(self, gateway: str) -> list[Outgoing[link_pb.DispatcherMessage]]:
        """Everything queued for a gateway, taken (as its link would)."""
        outbox = self.links.outbox(gateway)
        return outbox.take(len(outbox))

    def assignments(self, gateway: str = NODE_GATEWAY) -> list[Outgoing[Any]]:
        return [i for i in self.sent(gateway) if i.message.to_node.HasField("job_assign")]

    async def acknowledge(self, items: list[Outgoing[Any]]) -> None:
        """The gateway handled these: their follow-ups run (and reach Redis)."""
        for item in items:
            if item.on_ack is not None:
                item.on_ack()
        await self.acks.wait(5.0)

    async def record(self, job_id: str) -> JobRecord:
        found = await self.store.get(job_id)
        assert found is not None, job_id
        return found

    async def timer(self, job_id: str) -> float | None:
        from services.dispatcher.store import timeout_bucket  # noqa: PLC0415

        score = await self.redis.zscore(self.keys.timeouts(timeout_bucket(job_id)), job_id)
        return None if score is None else float(score)

    async def sweep_after(self, ms: int) -> int:
        self.clock.advance(ms)
        return await self.recovery.sweep_once()


def spec(index: int = 0, session: str = "s1") -> job_pb2.JobSpec:
    return job_pb2.JobSpec(
        session_id=session,
        utterance_index=index,
        src_lang=PAIR[0],
        tgt_lang=PAIR[1],
        audio=b"audio",
        audio_format="pcm16",
        sample_rate=16_000,
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True),
    )


def result(text: str = "hello") -> job_pb2.JobResult:
    return job_pb2.JobResult(success=True, text_asr=text, text_translated=text.upper())


@asynccontextmanager
async def dispatcher_rig(redis_settings: RedisSettings, **overrides: Any) -> AsyncIterator[Rig]:
    redis = connect(redis_settings)
    await initialize(redis)
    keys = Keys(redis_settings.key_prefix)
    settings = DispatcherSettings(redis=redis_settings, **overrides)
    clock = ManualClock()
    metrics = DispatcherMetrics()
    scripts = LuaScripts(redis)
    store = RedisJobStore(
        redis, scripts, keys, live_ttl_ms=3_600_000, retention_ms=600_000, metrics=metrics
    )
    queues = PendingQueues(redis, scripts, keys)
    links = GatewayLinks(LinkLimits(), 10_000, 64 * 1024 * 1024)
    owners, loads = NodeOwners(), LoadEstimates()
    acks = AckWork(store, clock, settings)
    lifecycle = JobLifecycle(
        store, queues, Deliveries(links), owners, loads, acks, clock, settings, metrics
    )
    index = LanguageIndex()
    finder = ReplicatedCandidateFinder(SyncedIndex(index), NobodyElse())
    placer = Placer(
        lifecycle,
        finder,
        owners,
        loads,
        links,
        Affinity(store, 100),
        clock,
        settings,
        rng=random.Random(7),
        metrics=metrics,
    )
    waiting = WaitingJobs(store, queues, placer, clock, settings, finder.pairs_of)
    lifecycle.attach_waiting(waiting)
    retries = Retries(lifecycle, placer, clock, settings)
    rig = Rig(
        redis=redis,
        keys=keys,
        clock=clock,
        settings=settings,
        store=store,
        queues=queues,
        links=links,
        owners=owners,
        loads=loads,
        acks=acks,
        lifecycle=lifecycle,
        placer=placer,
        waiting=waiting,
        retries=retries,
        intake=JobIntake(lifecycle, placer, retries, clock, settings, metrics),
        reports=NodeReports(lifecycle, retries, store),
        recovery=Recovery(store, lifecycle, retries, waiting, queues, loads, clock, settings),
        audit=SlotAudit(store, lifecycle.release_leftover, 15_000),
        index=index,
    )
    owners.linked(SESSION_GATEWAY)
    try:
        yield rig
    finally:
        await acks.wait(5.0)
        await redis.aclose()
