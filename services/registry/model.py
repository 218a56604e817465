"""Registry domain types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NodeStatus(StrEnum):
    REGISTERING = "registering"
    READY = "ready"
    DEGRADED = "degraded"
    DRAINING = "draining"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Claim:
    epoch: int
    previous_status: str
    previous_gateway: str
    index_seq: int


@dataclass(frozen=True)
class Beat:
    """One heartbeat as the store records it (the caller has judged its health)."""

    node_id: str
    epoch: int
    usage: bytes
    # Why the node is unfit for jobs, "" when fit (see domain.assess_health).
    unhealthy_reason: str
    gpu_reported: bool
    # Serialized LanguageCapabilities; None keeps the stored ones.
    language_caps: bytes | None
    ready_types: tuple[str, ...]


@dataclass(frozen=True)
class BeatOutcome:
    status: NodeStatus
    previous_status: NodeStatus
    reason: str
    # Non-zero when the pool index must change: the update's sequence number...
    index_seq: int
    # ...and the node's language capabilities to index.
    language_caps: bytes


@dataclass(frozen=True)
class Offline:
    epoch: int
    index_seq: int


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    epoch: int
    status: NodeStatus
    status_reason: str
    gateway_id: str
    descriptor: bytes
    usage: bytes
    max_jobs: int
    running_jobs: int
    registered_at_ms: int
    last_seen_ms: int
    language_caps: bytes
    ready_types: tuple[str, ...]
    index_seq: int
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeEvent:
    event_id: str
    kind: str  # registered | status_changed | offline
    node_id: str
    epoch: int
    status: str
    reason: str
    at_ms: int
    # W3C traceparent of the span that caused it (an offline's failovers link to it).
    traceparent: str = ""
