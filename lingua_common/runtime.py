"""Process entry: uvloop when available, then the service's async main."""

from __future__ import annotations

import asyncio
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


def run_app(service: str, settings: ServerSettings, build: Callable[[], ServiceApp]) -> None:
    """Install tracing, build the app inside the running loop (gRPC aio objects bind to
    it), serve until SIGTERM; telemetry is flushed after everything else has stopped."""
    tracing = Tracing.install(settings.tracing, service)

    async def main() -> None:
        await build().run_until_signalled()

    try:
        run(main())
    finally:
        tracing.shutdown()
    # The app has drained and closed what it owns; leftover library tasks or threads
    # must not hold the process past its shutdown (Kubernetes would SIGKILL it).
    logging.shutdown()
    os._exit(0)
