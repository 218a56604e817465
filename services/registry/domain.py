"""Registry logic: registration with epochs, heartbeats and the status machine, offline.

Plain code over a RegistryStore and a PoolIndexer; the servicer only maps protos.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import grpc

from lingua.common.v1 import node_pb2
from lingua_common.clock import Clock
from lingua_common.errors import DomainError
from lingua_common.ids import new_id
from services.registry.model import NodeEvent, NodeRecord, NodeStatus
from services.registry.settings import HealthPolicy, RegistrySettings
from services.registry.store import (
    NodeIdConflictError,
    NodeOfflineError,
    RegistryStore,
    StaleEpochError,
)

logger = logging.getLogger(__name__)

SUPPORTED_SCHEMA_VERSION = "2.0"


class PoolIndexer(Protocol):
    """The pool-index service as the registry uses it."""

    async def upsert(
        self, node_id: str, language_caps: node_pb2.LanguageCapabilities, ready_types: list[str]
    ) -> None: ...

    async def remove(self, node_id: str) -> None: ...


@dataclass(frozen=True)
class Registration:
    node_id: str
    epoch: int
    status: NodeStatus


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
    if usage.mem_percent > policy.max_mem_percent:
        return f"memory {usage.mem_percent:.0f}% over threshold"
    return ""


class Registry:
    def __init__(
        self,
        store: RegistryStore,
        pool: PoolIndexer,
        clock: Clock,
        settings: RegistrySettings,
    ) -> None:
        self._store = store
        self._pool = pool
        self._clock = clock
        self._settings = settings

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
                f"got {descriptor.capability_schema_version!r}",
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
            )
        except NodeIdConflictError:
            raise DomainError(
                "NODE_ID_CONFLICT",
                f"node id {node_id} is held by a live node with another credential",
                grpc.StatusCode.ALREADY_EXISTS,
            ) from None
        await self._pool.upsert(node_id, language_caps, list(ready_types))
        await self._emit("registered", node_id, claim.epoch, NodeStatus.REGISTERING, "", now)
        logger.info(
            "node registered",
            extra={"node_id": node_id, "epoch": claim.epoch, "gateway_id": gateway_id},
        )
        return Registration(node_id=node_id, epoch=claim.epoch, status=NodeStatus.REGISTERING)

    async def heartbeat(
        self,
        node_id: str,
        epoch: int,
        usage: node_pb2.ResourceUsage,
        capability_by_type: list[node_pb2.CapabilityByType],
        language_caps: node_pb2.LanguageCapabilities | None,
    ) -> NodeStatus:
        ready_types = ready_types_of(capability_by_type)
        reason = assess_health(self._settings.health, ready_types, usage)
        now = self._clock.now_ms()
        try:
            outcome = await self._store.heartbeat(
                node_id,
                epoch,
                now_ms=now,
                usage=usage.SerializeToString(),
                healthy=not reason,
                unhealthy_reason=reason,
                language_caps=(
                    language_caps.SerializeToString(deterministic=True)
                    if language_caps is not None
                    else None
                ),
                ready_types=ready_types,
            )
        except StaleEpochError:
            raise DomainError(
                "NODE_ID_CONFLICT",
                f"epoch {epoch} of node {node_id} was superseded by a newer registration",
                grpc.StatusCode.ABORTED,
            ) from None
        except NodeOfflineError:
            raise DomainError(
                "NODE_UNAVAILABLE",
                f"node {node_id} is offline; register again",
                grpc.StatusCode.FAILED_PRECONDITION,
            ) from None
        if outcome.changed_language_caps is not None:
            caps = node_pb2.LanguageCapabilities.FromString(outcome.changed_language_caps)
            await self._pool.upsert(node_id, caps, list(outcome.ready_types))
        if outcome.status != outcome.previous_status:
            await self._emit("status_changed", node_id, epoch, outcome.status, reason, now)
        return outcome.status

    async def deregister(self, node_id: str, epoch: int, reason: str) -> bool:
        return await self._take_offline(node_id, epoch, reason)

    async def drain(self, node_id: str, reason: str) -> NodeStatus:
        now = self._clock.now_ms()
        previous = await self._store.drain(node_id, now_ms=now, reason=reason or "drain")
        if previous is None:
            raise DomainError(
                "NODE_UNAVAILABLE",
                f"node {node_id} is unknown or offline",
                grpc.StatusCode.NOT_FOUND,
            )
        if previous is not NodeStatus.DRAINING:
            record = await self._store.get(node_id)
            await self._emit(
                "status_changed",
                node_id,
                record.epoch if record else 0,
                NodeStatus.DRAINING,
                reason,
                now,
            )
        return NodeStatus.DRAINING

    async def get(self, node_id: str) -> NodeRecord:
        record = await self._store.get(node_id)
        if record is None:
            raise DomainError("NODE_UNAVAILABLE", f"no node {node_id}", grpc.StatusCode.NOT_FOUND)
        return record

    async def sweep_once(self, limit: int = 500) -> int:
        """Take offline every node unheard for the offline window. Safe in every replica."""
        now = self._clock.now_ms()
        cutoff = now - self._settings.offline_after_ms
        taken = 0
        for node_id in await self._store.stale_node_ids(cutoff, limit):
            if await self._take_offline(node_id, 0, "heartbeat timeout", stale_before_ms=cutoff):
                taken += 1
        return taken

    async def _take_offline(
        self, node_id: str, epoch: int, reason: str, stale_before_ms: int = 0
    ) -> bool:
        now = self._clock.now_ms()
        taken_epoch = await self._store.mark_offline(
            node_id, epoch, now_ms=now, reason=reason, stale_before_ms=stale_before_ms
        )
        if taken_epoch is None:
            return False
        await self._pool.remove(node_id)
        await self._emit("offline", node_id, taken_epoch, NodeStatus.OFFLINE, reason, now)
        logger.info(
            "node offline", extra={"node_id": node_id, "epoch": taken_epoch, "reason": reason}
        )
        return True

    async def _emit(
        self, kind: str, node_id: str, epoch: int, status: NodeStatus, reason: str, now: int
    ) -> None:
        await self._store.append_event(
            NodeEvent(
                event_id="",
                kind=kind,
                node_id=node_id,
                epoch=epoch,
                status=status.value,
                reason=reason,
                at_ms=now,
            )
        )
