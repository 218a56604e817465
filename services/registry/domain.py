"""Registry logic: registration with epochs, heartbeats and the status machine, offline.

Plain code over a RedisRegistryStore, an IndexSync (pool index, off the request path)
and a GatewayNotifier; the servicer only maps protos.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

import grpc
from redis.exceptions import RedisError

from lingua.common.v1 import node_pb2
from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from lingua_common.errors import DomainError
from lingua_common.ids import new_id
from lingua_common.limits import preview
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, traceparent
from services.registry.event_feed import EventFeed
from services.registry.gateways import GatewayNotifier
from services.registry.index_sync import IndexSync, IndexUpdate
from services.registry.model import Beat, BeatOutcome, NodeEvent, NodeRecord, NodeStatus
from services.registry.serving import record_serving_gap, serving_gap
from services.registry.settings import HealthPolicy, RegistrySettings
from services.registry.store import (
    NodeIdConflictError,
    NodeOfflineError,
    NodeRecordLostError,
    Reclaim,
    RedisRegistryStore,
    StaleEpochError,
)

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)

SUPPORTED_SCHEMA_VERSION = "2.0"
# A heartbeat's outcome for a node whose record Redis lost (between services only: the
# node's gateway reclaims it; nodes never see this code).
RECORD_LOST = "NODE_RECORD_LOST"
RECONCILE_BATCH = 200
RECONCILE_PAUSE_S = 0.05


@dataclass(frozen=True)
class HeartbeatInput:
    """One heartbeat as a node sent it (through its gateway)."""

    node_id: str
    epoch: int
    usage: node_pb2.ResourceUsage
    capability_by_type: list[node_pb2.CapabilityByType]
    # None when the beat did not carry language capabilities.
    language_caps: node_pb2.LanguageCapabilities | None


@dataclass(frozen=True)
class HeldNode:
    """A node a gateway holds the socket of, as it registered (for a reclaim)."""

    node_id: str
    epoch: int
    gateway_id: str
    descriptor: node_pb2.NodeDescriptor
    credential: str = ""


@dataclass(frozen=True)
class Registration:
    node_id: str
    epoch: int
    status: NodeStatus
    # Why the node can serve no job ("" when it can): it is registered all the same.
    not_serving: str = ""


def ready_types_of(caps: list[node_pb2.CapabilityByType]) -> tuple[str, ...]:
    return tuple(sorted({c.type for c in caps if c.ready}))


def assess_health(
    policy: HealthPolicy, ready_types: tuple[str, ...], usage: node_pb2.ResourceUsage
) -> str:
    """Why the node is unfit for jobs, or "" when it is fit."""
    missing = [t for t in policy.required_service_types if t not in ready_types]
    if missing:
        return "services not ready: " + ",".join(missing)
    if usage.HasField("gpu_mem_percent") and usage.gpu_mem_percent > policy.max_gpu_mem_percent:
        return f"gpu memory {usage.gpu_mem_percent:.0f}% over threshold"
    if usage.HasField("gpu_percent") and usage.gpu_percent > policy.max_gpu_percent:
        return f"gpu {usage.gpu_percent:.0f}% over threshold"
    if usage.mem_percent > policy.max_mem_percent:
        return f"memory {usage.mem_percent:.0f}% over threshold"
    return ""


class Registry:
    def __init__(
        self,
        store: RedisRegistryStore,
        index: IndexSync,
        gateways: GatewayNotifier,
        clock: Clock,
        settings: RegistrySettings,
        replica_id: str,
    ) -> None:
        self._store = store
        self._index = index
        self._gateways = gateways
        self._clock = clock
        self._settings = settings
        self._replica_id = replica_id
        self._events = EventFeed(store)
        self._background = BackgroundTasks()

    async def register(
        self,
        requested_id: str,
        descriptor: node_pb2.NodeDescriptor,
        gateway_id: str,
        credential: str = "",
    ) -> Registration:
        if descriptor.capability_schema_version != SUPPORTED_SCHEMA_VERSION:
            raise DomainError(
                "INVALID_CAPABILITY_SCHEMA",
                f"capability_schema_version must be {SUPPORTED_SCHEMA_VERSION!r}, "
                f"got {preview(descriptor.capability_schema_version)}",
                grpc.StatusCode.INVALID_ARGUMENT,
            )
        if not descriptor.hardware.gpus:
            raise DomainError("NO_GPU_AVAILABLE", "node reports no GPU; GPU nodes only")
        node_id = requested_id or new_id("node")
        ready_types = ready_types_of(list(descriptor.capability_by_type))
        language_caps = descriptor.language_capabilities
        now = self._clock.now_ms()
        try:
            claim = await self._store.claim(
                node_id,
                now_ms=now,
                gateway_id=gateway_id,
                descriptor=descriptor.SerializeToString(deterministic=True),
                max_jobs=self._settings.default_max_jobs,
                credential=credential,
                language_caps=language_caps.SerializeToString(deterministic=True),
                ready_types=ready_types,
                accepts_public_jobs=descriptor.accept_public_jobs,
            )
        except NodeIdConflictError:
            raise DomainError(
                "NODE_ID_CONFLICT",
                f"node id {node_id} is held by a live node with another credential",
                grpc.StatusCode.ALREADY_EXISTS,
            ) from None
        await self._events.append_soon(
            _event("registered", node_id, claim.epoch, NodeStatus.REGISTERING, "", now)
        )
        indexed_caps = (
            language_caps if descriptor.accept_public_jobs else node_pb2.LanguageCapabilities()
        )
        self._index.submit(IndexUpdate(node_id, claim.index_seq, indexed_caps, ready_types))
        if claim.previous_gateway and claim.previous_status not in ("", NodeStatus.OFFLINE):
            # The previous connection of this id may sit on another replica: close it now,
            # not at its next heartbeat.
            self._background.spawn(
                self._gateways.disconnect(
                    claim.previous_gateway,
                    node_id,
                    claim.epoch - 1,
                    "superseded by a newer registration",
                )
            )
        logger.info(
            "node registered",
            extra={"node_id": node_id, "epoch": claim.epoch, "gateway_id": gateway_id},
        )
        not_serving = serving_gap(
            language_caps, ready_types, descriptor.accept_public_jobs, self._settings.pipeline_types
        )
        if not_serving:
            # Registered, but no job will ever come: an operator must hear of it.
            logger.warning(
                "node %s registered but not serving: %s",
                node_id,
                not_serving,
                extra={"node_id": node_id, "gateway_id": gateway_id, "not_serving": not_serving},
            )
        return Registration(
            node_id=node_id,
            epoch=claim.epoch,
            status=NodeStatus.REGISTERING,
            not_serving=not_serving,
        )

    async def reclaim(self, nodes: list[HeldNode]) -> list[bool]:
        """Redis lost its data: write back the nodes a gateway holds sockets of, under
        their current epochs (they never registered again), and index them again. True
        for each node written back; False where a record of that epoch or a newer one
        is there (or the descriptor is no longer acceptable)."""
        now = self._clock.now_ms()
        reclaims = []
        for node in nodes:
            descriptor = node.descriptor
            reclaims.append(
                Reclaim(
                    node_id=node.node_id,
                    epoch=node.epoch,
                    gateway_id=node.gateway_id,
                    descriptor=descriptor.SerializeToString(deterministic=True),
                    credential=node.credential,
                    language_caps=descriptor.language_capabilities.SerializeToString(
                        deterministic=True
                    ),
                    ready_types=ready_types_of(list(descriptor.capability_by_type)),
                    accepts_public_jobs=descriptor.accept_public_jobs,
                )
            )
        seqs = await self._store.reclaim_many(
            reclaims, now_ms=now, max_jobs=self._settings.default_max_jobs
        )
        events = []
        for node, reclaim, seq in zip(nodes, reclaims, seqs, strict=True):
            if seq is None:
                continue
            caps = (
                node.descriptor.language_capabilities
                if reclaim.accepts_public_jobs
                else node_pb2.LanguageCapabilities()
            )
            self._index.submit(IndexUpdate(node.node_id, seq, caps, reclaim.ready_types))
            events.append(
                _event("registered", node.node_id, node.epoch, NodeStatus.READY, "restored", now)
            )
        if events:
            await self._events.append(events)
            logger.info("nodes restored after a data loss", extra={"nodes": len(events)})
        return [seq is not None for seq in seqs]

    def not_serving(self, record: NodeRecord) -> str:
        """Why the node, as its record stands, can serve no job ("" when it can)."""
        return record_serving_gap(record, self._settings.pipeline_types)

    async def heartbeat(self, beat: HeartbeatInput) -> NodeStatus:
        [outcome] = await self.heartbeat_many([beat])
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def heartbeat_many(self, beats: list[HeartbeatInput]) -> list[NodeStatus | DomainError]:
        """Record a batch of beats in one round trip; each beat's status or refusal."""
        now = self._clock.now_ms()
        prepared = [self._prepare(beat) for beat in beats]
        try:
            outcomes = await self._store.heartbeat_many(prepared, now_ms=now)
        except RedisError as error:
            logger.warning(
                "heartbeats not recorded", extra={"beats": len(beats), "error": str(error)}
            )
            return [_beat_not_recorded(beat.node_id) for beat in prepared]
        results: list[NodeStatus | DomainError] = []
        changes: list[NodeEvent] = []
        for beat, outcome in zip(prepared, outcomes, strict=True):
            if isinstance(outcome, BeatOutcome):
                if outcome.index_seq:
                    caps = node_pb2.LanguageCapabilities.FromString(outcome.language_caps)
                    self._index.submit(
                        IndexUpdate(beat.node_id, outcome.index_seq, caps, beat.ready_types)
                    )
                if outcome.status != outcome.previous_status:
                    changes.append(
                        _event(
                            "status_changed",
                            beat.node_id,
                            beat.epoch,
                            outcome.status,
                            outcome.reason,
                            now,
                        )
                    )
                results.append(outcome.status)
            else:
                results.append(_beat_refusal(beat, outcome))
        if changes:
            await self._events.append(changes)
        return results

    def _prepare(self, beat: HeartbeatInput) -> Beat:
        ready_types = ready_types_of(beat.capability_by_type)
        return Beat(
            node_id=beat.node_id,
            epoch=beat.epoch,
            usage=beat.usage.SerializeToString(),
            unhealthy_reason=assess_health(self._settings.health, ready_types, beat.usage),
            gpu_reported=beat.usage.HasField("gpu_percent")
            or beat.usage.HasField("gpu_mem_percent"),
            language_caps=(
                beat.language_caps.SerializeToString(deterministic=True)
                if beat.language_caps is not None
                else None
            ),
            ready_types=ready_types,
        )

    async def flush_events(self) -> None:
        """Wait for node events still being written in the background (on shutdown)."""
        await self._events.flush()

    async def deregister(self, node_id: str, epoch: int, reason: str) -> bool:
        return await self._take_offline(node_id, epoch, reason)

    async def drain(self, node_id: str, reason: str) -> NodeStatus:
        now = self._clock.now_ms()
        reason = reason or "drain requested"
        drained = await self._store.drain(node_id, now_ms=now, reason=reason)
        if drained is None:
            raise DomainError(
                "NODE_UNAVAILABLE",
                f"node {node_id} is unknown or offline",
                grpc.StatusCode.NOT_FOUND,
            )
        previous, epoch = drained
        if previous is not NodeStatus.DRAINING:
            await self._events.append(
                [_event("status_changed", node_id, epoch, NodeStatus.DRAINING, reason, now)]
            )
            record = await self._store.get(node_id)
            if record is not None and record.gateway_id:
                self._background.spawn(
                    self._gateways.control(record.gateway_id, node_id, epoch, "drain", reason)
                )
        return NodeStatus.DRAINING

    async def get(self, node_id: str) -> NodeRecord:
        record = await self._store.get(node_id, with_history=True)
        if record is None:
            raise DomainError("NODE_UNAVAILABLE", f"no node {node_id}", grpc.StatusCode.NOT_FOUND)
        return record

    async def sweep_once(self, limit: int = 500) -> int:
        """Take offline every node unheard for the offline window.

        One replica sweeps per interval (a short lock); even if two did, the offline
        script's fences make the second a no-op.
        """
        if not await self._store.try_sweep_lock(self._replica_id, self._settings.sweep_interval_ms):
            return 0
        now = self._clock.now_ms()
        cutoff = now - self._settings.offline_after_ms
        taken = 0
        for node_id in await self._store.stale_node_ids(cutoff, limit):
            if await self._take_offline(node_id, 0, "heartbeat timeout", stale_before_ms=cutoff):
                taken += 1
            elif await self._store.get(node_id) is None:
                await self._store.forget(node_id)
        return taken

    async def reconcile_once(self) -> int:
        """Re-send the index entries the pool is behind on. Returns how many."""
        resent, cursor = 0, 0
        while True:
            cursor, node_ids = await self._store.list_ids(cursor, RECONCILE_BATCH)
            states = await self._store.index_state(node_ids)
            for node_id, (registry_seq, pool_seq) in zip(node_ids, states, strict=True):
                if pool_seq >= registry_seq and registry_seq:
                    continue
                record = await self._store.get(node_id)
                if record is None:
                    await self._store.forget(node_id)
                    self._index.submit(IndexUpdate(node_id, pool_seq + 1, None))
                elif record.status is NodeStatus.OFFLINE:
                    self._index.submit(IndexUpdate(node_id, record.index_seq, None))
                else:
                    caps = node_pb2.LanguageCapabilities.FromString(record.language_caps)
                    self._index.submit(
                        IndexUpdate(node_id, record.index_seq, caps, record.ready_types)
                    )
                resent += 1
            if cursor == 0:
                return resent
            # Let heartbeats through between batches: a full pass must never stall them.
            await asyncio.sleep(RECONCILE_PAUSE_S)

    async def _take_offline(
        self, node_id: str, epoch: int, reason: str, stale_before_ms: int = 0
    ) -> bool:
        now = self._clock.now_ms()
        offline = await self._store.mark_offline(
            node_id, epoch, now_ms=now, reason=reason, stale_before_ms=stale_before_ms
        )
        if offline is None:
            return False
        self._index.submit(IndexUpdate(node_id, offline.index_seq, None))
        # The node's jobs fail over in their own traces; each links back to this span.
        with tracer.start_as_current_span(
            names.REGISTRY_NODE_OFFLINE,
            attributes={
                names.NODE_ID: node_id,
                names.NODE_EPOCH: offline.epoch,
                names.REASON: reason,
            },
        ):
            event = _event("offline", node_id, offline.epoch, NodeStatus.OFFLINE, reason, now)
            await self._events.append([replace(event, traceparent=traceparent())])
        logger.info(
            "node offline", extra={"node_id": node_id, "epoch": offline.epoch, "reason": reason}
        )
        return True


def _beat_refusal(beat: Beat, refusal: Exception) -> DomainError:
    if isinstance(refusal, StaleEpochError):
        return DomainError(
            "NODE_ID_CONFLICT",
            f"epoch {beat.epoch} of node {beat.node_id} was superseded by a newer registration",
            grpc.StatusCode.ABORTED,
        )
    if isinstance(refusal, NodeRecordLostError):
        return DomainError(
            RECORD_LOST,
            f"no record of node {beat.node_id}: Redis lost it; its gateway writes it back",
            grpc.StatusCode.NOT_FOUND,
        )
    if isinstance(refusal, NodeOfflineError):
        return DomainError(
            "NODE_UNAVAILABLE",
            f"node {beat.node_id} is offline; register again",
            grpc.StatusCode.FAILED_PRECONDITION,
        )
    logger.warning("heartbeat not recorded", extra={"node_id": beat.node_id, "error": str(refusal)})
    return _beat_not_recorded(beat.node_id)


def _beat_not_recorded(node_id: str) -> DomainError:
    return DomainError(
        "SCHEDULER_DEPENDENCY_DOWN",
        f"heartbeat of node {node_id} not recorded: the node store is unavailable",
        grpc.StatusCode.UNAVAILABLE,
    )


def _event(
    kind: str, node_id: str, epoch: int, status: NodeStatus, reason: str, now: int
) -> NodeEvent:
    return NodeEvent(
        event_id="",
        kind=kind,
        node_id=node_id,
        epoch=epoch,
        status=status.value,
        reason=reason,
        at_ms=now,
    )
