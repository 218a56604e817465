"""Dispatcher domain types: the job record, a job's reference, and what each Lua
transition replies (parsed once, in store.py; nowhere else reads a reply by position)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from lingua.common.v1 import job_pb2


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
class JobRef:
    """A job as everything along its path refers to it: where its answers go and the
    trace they belong to. `gateway_id` holds the session's socket ("" for API jobs)."""

    job_id: str
    session_id: str = ""
    utterance_index: int = 0
    trace_id: str = ""
    gateway_id: str = ""

    @property
    def has_session(self) -> bool:
        return bool(self.session_id)

    def to_pb(self) -> job_pb2.JobRef:
        return job_pb2.JobRef(
            job_id=self.job_id,
            session_id=self.session_id,
            utterance_index=self.utterance_index,
            trace_id=self.trace_id,
            gateway_id=self.gateway_id,
        )


@dataclass(frozen=True)
class Connection:
    """One registration of a node: its id and epoch (a reconnect is a new epoch)."""

    node_id: str
    epoch: int

    @classmethod
    def parse(cls, text: str) -> Connection:
        node_id, _, epoch = text.rpartition("@")
        if not node_id:  # written before epochs were recorded: the whole text is the id
            return cls(text, 0)
        return cls(node_id, int(epoch) if epoch.isdigit() else 0)

    def __str__(self) -> str:
        return f"{self.node_id}@{self.epoch}"


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    request_id: str
    state: JobState
    node_id: str
    node_epoch: int
    attempt: int
    trace_id: str
    session_id: str
    utterance_index: int
    src_lang: str
    tgt_lang: str
    tenant_id: str
    # The gateway replica holding the session's socket: where its answers go.
    gateway_id: str
    created_ms: int
    updated_ms: int
    dispatched_ms: int
    due_ms: int
    # The node connections that failed this job (not tried again while they last).
    excluded: tuple[Connection, ...]
    pool_id: str
    error_code: str
    error_message: str
    spec: bytes
    result: bytes
    # The W3C traceparent of the job's creation: later work on the job joins its trace.
    trace_parent: str = ""

    @property
    def ref(self) -> JobRef:
        return JobRef(
            self.job_id, self.session_id, self.utterance_index, self.trace_id, self.gateway_id
        )


@dataclass(frozen=True)
class Created:
    """What job_create did: created the job now, or found it already there."""

    created: bool
    trace_id: str
    state: JobState
    node_id: str = ""
    attempt: int = 0


class Reservation(Enum):
    RESERVED = "reserved"  # by this call
    HELD = "held"  # by this same attempt, earlier
    FULL = "node_full"
    NOT_READY = "node_not_ready"
    CONFLICT = "conflict"  # the job holds a slot there under another attempt

    @property
    def holds(self) -> bool:
        return self in (Reservation.RESERVED, Reservation.HELD)


@dataclass(frozen=True)
class Reserved:
    """What slot_reserve said, with the node's load as it saw it."""

    outcome: Reservation
    running: int = 0
    max_jobs: int = 0


@dataclass(frozen=True)
class Confirmed:
    """What job_confirm said when it applied: the job's deadline now."""

    due_ms: int
    # The first sign of life of this attempt (its deadline moved to the result deadline).
    first: bool
    ref: JobRef
    created_ms: int


@dataclass(frozen=True)
class Finished:
    """What job_finish hands back when it moved a job to its terminal state."""

    ref: JobRef
    node_id: str
    attempt: int
    dispatched_ms: int


@dataclass(frozen=True)
class Abandoned:
    """What job_abandon decided: retry (pending again) or failed for good."""

    retry: bool
    node_id: str
    # The attempt given up, and the number a retry takes (the same one when the attempt
    # never reached its node).
    attempt: int
    next_attempt: int = 0
    excluded: tuple[Connection, ...] = ()
    # Set when it failed: who is told.
    ref: JobRef | None = None


@dataclass(frozen=True)
class JobEvent:
    event_id: str
    kind: str  # created, pending, dispatched, accepted, retrying, completed, failed, cancelled
    attempt: int
    node_id: str
    at_ms: int
    code: str
