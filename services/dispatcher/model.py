"""Dispatcher domain types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobState(StrEnum):
    CREATED = "created"
    PENDING = "pending"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    request_id: str
    state: JobState
    node_id: str
    attempt: int
    trace_id: str
    session_id: str
    utterance_index: int
    src_lang: str
    tgt_lang: str
    tenant_id: str
    reply_to: str
    created_ms: int
    updated_ms: int
    dispatched_ms: int
    due_ms: int
    excluded: tuple[str, ...]
    pool_id: str
    error_code: str
    error_message: str
    spec: bytes
    result: bytes
    # The W3C traceparent of the job's creation: later work on the job joins its trace.
    trace_parent: str = ""


@dataclass(frozen=True)
class Finished:
    """What job_finish hands back when it moved a job to its terminal state."""

    session_id: str
    utterance_index: int
    trace_id: str
    node_id: str
    attempt: int
    reply_to: str
    dispatched_ms: int


@dataclass(frozen=True)
class Abandoned:
    """What job_abandon decided: retry (pending again) or failed for good."""

    retry: bool
    node_id: str
    attempt: int
    excluded: tuple[str, ...] = ()
    session_id: str = ""
    utterance_index: int = 0
    trace_id: str = ""
    reply_to: str = ""


@dataclass(frozen=True)
class JobEvent:
    event_id: str
    kind: str  # created, pending, dispatched, accepted, retrying, completed, failed, cancelled
    attempt: int
    node_id: str
    at_ms: int
    code: str


@dataclass(frozen=True)
class NodeLoad:
    node_id: str
    ready: bool
    running: int
    max_jobs: int
    owner_gateway: str
    owner_epoch: int

    @property
    def free(self) -> int:
        return self.max_jobs - self.running

    @property
    def utilisation(self) -> float:
        return self.running / self.max_jobs if self.max_jobs else 1.0
