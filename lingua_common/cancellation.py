"""Cancellation must win over error handling.

Some libraries turn a task's cancellation into their own error (a gRPC call cancelled
mid-flight ends as AioRpcError CANCELLED). A handler that logs such an error and carries
on would swallow the cancellation, and a service would never finish shutting down.
"""

from __future__ import annotations

import asyncio


def cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def reraise_if_cancelling() -> None:
    """Call first in an `except` block that would otherwise carry on."""
    if cancelling():
        raise asyncio.CancelledError
