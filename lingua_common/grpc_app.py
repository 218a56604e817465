"""gRPC server bootstrap shared by every service.

A service serves its service-to-service API on its main gRPC server and may add fronts
of its own (the dispatcher's team API, `add_front`): each front is a gRPC server on its
own port with its own health, reflection and authentication (api_auth.py: which
credentials it takes), and every request is checked against the table of limits
(limits.py). Prometheus metrics are served on `metrics_port` (GET /metrics) unless it
is negative. Shutdown on SIGTERM/SIGINT runs: health NOT_SERVING on every front ->
drain hooks -> every server.stop(grace) -> background tasks cancelled -> close hooks
(pools, telemetry flush).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

import grpc
import orjson
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import Counter

from lingua_common.api_auth import Api, ApiAuthInterceptor, ApiAuthSettings, TlsSettings
from lingua_common.cancellation import reraise_if_cancelling
from lingua_common.interceptors import (
    DEPENDENCY_ERRORS,
    DependencyErrorInterceptor,
    RequestLimitsInterceptor,
)
from lingua_common.metrics.endpoint import MetricsEndpoint
from lingua_common.metrics.service import ServiceMetrics
from lingua_common.rpc_metrics import RpcMetricsInterceptor
from lingua_common.settings import ServerSettings
from lingua_common.telemetry.tracing import server_interceptors

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]
TASK_STOP_TIMEOUT_S = 5.0
RECANCEL_INTERVAL_S = 0.1

GRPC_OPTIONS = (
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    # A burst (10,000 nodes reconnecting, each with a heartbeat) must queue, not be
    # cancelled: the default cancels calls beyond ~1,000 pending.
    ("grpc.server.max_pending_requests", 50_000),
)


class GrpcFront:
    """One gRPC server of a service: its port, health, reflection and who may call it."""

    def __init__(
        self,
        name: str,
        port: int,
        api: Api,
        metrics: ServiceMetrics,
        auth: ApiAuthSettings,
        tls: TlsSettings | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.api = api
        self.tls = tls
        self.server = grpc.aio.server(
            options=GRPC_OPTIONS,
            interceptors=[
                RpcMetricsInterceptor(metrics.rpc),
                *server_interceptors(),
                ApiAuthInterceptor(
                    auth,
                    api,
                    metrics.auth_refused,
                    mtls=tls is not None and bool(tls.client_ca_file),
                ),
                RequestLimitsInterceptor(),
                DependencyErrorInterceptor(metrics.redis_errors_rpc),
            ],
        )
        self.health = health.aio.HealthServicer()  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names: list[str] = [health.SERVICE_NAME, reflection.SERVICE_NAME]

    def add_service_name(self, full_name: str) -> None:
        self.service_names.append(full_name)

    def bind(self, host: str) -> int:
        reflection.enable_server_reflection(self.service_names, self.server)
        address = f"{host}:{self.port}"
        if self.tls is not None:
            return self.server.add_secure_port(address, self.tls.server_credentials())
        return self.server.add_insecure_port(address)

    async def serving(self) -> None:
        for service_name in [*self.service_names, ""]:
            await self.health.set(service_name, health_pb2.HealthCheckResponse.SERVING)


class ServiceApp:
    """The gRPC servers plus the lifecycle hooks of one service process."""

    def __init__(self, name: str, settings: ServerSettings) -> None:
        self.name = name
        self.settings = settings
        settings.auth.validate()
        if settings.auth.disabled:
            logger.warning(
                "gRPC authentication is disabled (LINGUA_AUTH_DISABLED=true): any caller "
                "may call every API",
                extra={"service": name},
            )
        # This app's own registry: several apps may share a process (tests).
        self.metrics = ServiceMetrics()
        self._metrics_endpoint = MetricsEndpoint(self.metrics.render)
        # The service-to-service API.
        self.main = GrpcFront("grpc", settings.grpc_port, "service", self.metrics, settings.auth)
        self.fronts: list[GrpcFront] = [self.main]
        self.server = self.main.server
        self.health = self.main.health
        self._startup: list[Hook] = []
        self._serving: list[Hook] = []
        self._drain: list[Hook] = []
        self._close: list[Hook] = []
        self._background: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.ports: dict[str, int] = {}
        # One pass of a background loop by name (e.g. the registry's "sweep"): a test that
        # moves a ManualClock runs the pass itself instead of sleeping until the loop does.
        self.steps: dict[str, Callable[[], Awaitable[object]]] = {}
        self._stopping = asyncio.Event()
        self._stopped = False

    def add_service_name(self, full_name: str) -> None:
        """A service of the main server (health and reflection name it)."""
        self.main.add_service_name(full_name)

    def add_front(self, name: str, port: int, api: Api) -> GrpcFront:
        """Another gRPC server, on its own port (`ports[name]` once started), taking the
        credentials of `api` (TLS from LINGUA_TLS_* on a team front)."""
        tls = self.settings.auth.tls if api == "team" else None
        front = GrpcFront(name, port, api, self.metrics, self.settings.auth, tls)
        self.fronts.append(front)
        return front

    def on_startup(self, hook: Hook) -> None:
        """Runs before the gRPC server takes calls (connect stores, load caches)."""
        self._startup.append(hook)

    def on_serving(self, hook: Hook) -> None:
        """Runs once the gRPC server takes calls (open other front doors)."""
        self._serving.append(hook)

    def on_drain(self, hook: Hook) -> None:
        self._drain.append(hook)

    def on_close(self, hook: Hook) -> None:
        """Close hooks run last, in reverse order of registration."""
        self._close.append(hook)

    def run_in_background(self, loop_fn: Callable[[], Awaitable[None]]) -> None:
        self._background.append(loop_fn)

    async def start(self) -> None:
        for front in self.fronts:
            self.ports[front.name] = front.bind(self.settings.host)
        for hook in self._startup:
            await hook()
        for front in self.fronts:
            await front.server.start()
        for hook in self._serving:
            await hook()
        if self.settings.metrics_port >= 0:
            self.ports["metrics"] = await self._metrics_endpoint.start(
                self.settings.host, self.settings.metrics_port
            )
        redis_errors = self.metrics.redis_errors_background
        for loop_fn in self._background:
            self._tasks.append(
                asyncio.create_task(_guarded(loop_fn, redis_errors), name=loop_fn.__name__)
            )
        for front in self.fronts:
            await front.serving()
        self._write_ready_file()
        logger.info("serving", extra={"service": self.name, "ports": self.ports})

    def _write_ready_file(self) -> None:
        if not self.settings.ready_file:
            return
        path = Path(self.settings.ready_file)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"pid": os.getpid(), "ports": self.ports}))
        tmp.replace(path)

    def request_stop(self) -> None:
        self._stopping.set()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for front in self.fronts:
            await front.health.enter_graceful_shutdown()
        for hook in self._drain:
            await _logged(hook)
        grace = self.settings.shutdown_grace_s
        await asyncio.gather(*(front.server.stop(grace) for front in self.fronts))
        await self._metrics_endpoint.close()
        stuck = await cancel_and_wait(self._tasks, TASK_STOP_TIMEOUT_S)
        if stuck:
            dump_tasks()
            logger.error("background tasks did not stop", extra={"count": len(stuck)})
        for hook in reversed(self._close):
            await _logged(hook)
        logger.info("stopped", extra={"service": self.name})

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        # For operators (and the launcher, before it kills a service that will not stop).
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.stop()


async def cancel_and_wait(
    tasks: Collection[asyncio.Task[None]], timeout_s: float
) -> set[asyncio.Task[None]]:
    """Cancel `tasks` and wait for them, at most `timeout_s`; the ones still running.

    The cancel is repeated: Python 3.11's asyncio.wait_for (inside redis-py's send) can
    swallow a cancellation that lands as its inner await completes, and a loop that lost
    its cancel would otherwise run on until the bound.
    """
    pending = {task for task in tasks if not task.done()}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_INTERVAL_S, left))
    return pending


async def _guarded(loop_fn: Callable[[], Awaitable[None]], redis_errors: Counter) -> None:
    """Background loops must not die silently: log and restart after a pause."""
    while True:
        try:
            await loop_fn()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reraise_if_cancelling()
            if isinstance(error, DEPENDENCY_ERRORS):
                redis_errors.inc()
            logger.exception("background loop failed; restarting", extra={"loop": loop_fn})
            await asyncio.sleep(1.0)


def dump_tasks() -> None:
    """Log the stack of every asyncio task: what a stuck process is waiting for."""
    stacks = io.StringIO()
    for task in asyncio.all_tasks():
        try:
            for frame in task.get_stack(limit=12):
                stacks.write(
                    f"{task.get_name()}: {frame.f_code.co_filename}:{frame.f_lineno} "
                    f"{frame.f_code.co_name}\n"
                )
        except Exception as error:  # a dump must never be what fails
            stacks.write(f"{task.get_name()}: <no stack: {error!r}>\n")
    logger.warning("task dump", extra={"tasks": stacks.getvalue()})


async def _logged(hook: Hook) -> None:
    try:
        await hook()
    except Exception:
        logger.exception("shutdown hook failed", extra={"hook": getattr(hook, "__name__", "")})


# The servicer context as our servicers use it (request/response types vary per RPC).
Context = grpc.aio.ServicerContext[Any, Any]
