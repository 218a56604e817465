"""What the dispatcher's domain refuses, with the PROTOCOL.md code a caller sees. The
servicers map each to a gRPC status (servicer.py); the domain knows nothing of gRPC."""

from __future__ import annotations


class JobError(Exception):
    """A refusal, with its wire code."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidJob(JobError):
    """The request itself is wrong (a missing or malformed field)."""

    code = "INVALID_MESSAGE"


class JobNotFound(JobError):
    code = "NOT_FOUND"


class NoCapacity(JobError):
    """Nodes serve the pair but none has a free slot, and the caller would not wait."""

    code = "NO_AVAILABLE_NODE"


class NoNode(JobError):
    """Nobody serves the pair (or nobody had room in time)."""

    code = "NO_AVAILABLE_NODE"


class WatchersFull(JobError):
    """This replica serves as many watchers as it may (LINGUA_MAX_WATCHERS)."""

    code = "WATCHERS_FULL"


class ShuttingDown(JobError):
    """This replica is stopping: the caller goes to another."""

    code = "SCHEDULER_DEPENDENCY_DOWN"


class DependencyDown(JobError):
    """A service the dispatcher needs (the pool index) cannot answer, and nothing it
    holds itself can stand in."""

    code = "SCHEDULER_DEPENDENCY_DOWN"


class TenantMismatch(JobError):
    """A team caller named another tenant than its credentials give it."""

    code = "PERMISSION_DENIED"
