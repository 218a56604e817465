"""Domain errors and how they cross gRPC.

A domain error carries a PROTOCOL.md code (NO_AVAILABLE_NODE, NODE_ID_CONFLICT, …).
Servicers map it to a gRPC status and put the code in trailing metadata so the
gateway can hand the exact wire code to a node or client.
"""

from __future__ import annotations

from typing import Any

import grpc

ERROR_CODE_METADATA_KEY = "lingua-error-code"


class DomainError(Exception):
    """A refusal the caller should see, with its wire code and gRPC status."""

    def __init__(
        self,
        code: str,
        message: str,
        status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: DomainError) -> None:
    context.set_trailing_metadata(((ERROR_CODE_METADATA_KEY, error.code),))
    await context.abort(error.status, error.message)


def wire_code_of(error: grpc.aio.AioRpcError, default: str = "INTERNAL_ERROR") -> str:
    """The PROTOCOL.md code a failed call carried, or a default by its status."""
    metadata: Any = error.trailing_metadata() or ()
    for key, value in metadata:
        if key == ERROR_CODE_METADATA_KEY:
            return str(value)
    if error.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ):
        return "SCHEDULER_DEPENDENCY_DOWN"
    return default
