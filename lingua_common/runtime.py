"""Process entry: uvloop when available, then the service's async main."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from lingua_common.grpc_app import ServiceApp
from lingua_common.settings import ServerSettings
from lingua_common.telemetry.tracing import Tracing


def run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        asyncio.run(main)
        return
    uvloop.run(main)


# A gateway holds thousands of long-lived connections (hundreds of objects each); with
# the default thresholds (700, 10, 10) the collector walks them all again and again,
# and each full pass stalls the event loop for tens to hundreds of milliseconds. Young
# passes 70x rarer and full passes 10x rarer keep those stalls out of the tail latency;
# garbage from reference cycles lives a little longer, bounded by the thresholds.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Fewer collector passes, and none over what startup built (it lives forever)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run_app(service: str, settings: ServerSettings, build: Callable[[], ServiceApp]) -> None:
    """Install tracing, build the app inside the running loop (gRPC aio objects bind to
    it), serve until SIGTERM; telemetry is flushed after everything else has stopped."""
    tracing = Tracing.install(settings.tracing, service)

    async def main() -> None:
        app = build()
        tune_gc()
        await app.run_until_signalled()

    try:
        run(main())
    finally:
        tracing.shutdown()
    # The app has drained and closed what it owns; leftover library tasks or threads
    # must not hold the process past its shutdown (Kubernetes would SIGKILL it).
    logging.shutdown()
    os._exit(0)
