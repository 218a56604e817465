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


@dataclass(frozen=True)
class BeatOutcome:
    status: NodeStatus
    previous_status: NodeStatus
    # Set when the pool index must be updated: the node's language capabilities.
    changed_language_caps: bytes | None
    ready_types: tuple[str, ...]


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


@dataclass(frozen=True)
class NodeEvent:
    event_id: str
    kind: str  # registered | status_changed | offline
    node_id: str
    epoch: int
    status: str
    reason: str
    at_ms: int
