"""Wiring of the console service: the sampler (a background loop), the HTTP front, and
the gRPC server every service has (health, for probes; metrics)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lingua_common.clock import Clock, SystemClock
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.metrics.board import MetricsBoard
from lingua_common.ops.client import Endpoints, SchedulerClient
from lingua_common.redis_client import close as close_redis
from lingua_common.redis_client import connect, initialize
from services.console.history import HistoryStore
from services.console.http import ConsoleHttp
from services.console.live import LiveFeed
from services.console.overview import ConsoleSampler
from services.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Console:
    app: ServiceApp
    sampler: ConsoleSampler
    feed: LiveFeed


def build_app(settings: ConsoleSettings, clock: Clock | None = None) -> ServiceApp:
    return build_console(settings, clock).app


def build_console(
    settings: ConsoleSettings, clock: Clock | None = None, *, sample: bool = True
) -> Console:
    """`sample=False` leaves the sampler to the caller (tests drive tick_once)."""
    settings.validate()
    if settings.auth.disabled:
        logger.warning("console authentication is disabled: anyone may read, drain and cancel")
    clock = clock or SystemClock()
    app = ServiceApp("console", settings.server)
    redis = connect(settings.redis)
    app.on_startup(lambda: initialize(redis))
    keys = Keys(settings.redis.key_prefix)
    client = SchedulerClient(
        Endpoints(settings.registry_address, settings.pool_address, settings.dispatcher_address),
        settings.credentials,
    )
    feed = LiveFeed(settings.max_live_clients)
    sampler = ConsoleSampler(
        client,
        MetricsBoard(redis, keys),
        HistoryStore(redis, keys, settings.history_points),
        feed,
        clock,
        settings,
    )
    front = ConsoleHttp(sampler, client, feed, settings.auth, settings.trace_url)

    async def serve_http() -> None:
        app.ports["http"] = await front.start(settings.server.host, settings.http_port)

    app.on_serving(serve_http)
    if sample:
        app.run_in_background(sampler.run)
    app.on_drain(front.stop)
    app.on_close(client.close)
    app.on_close(lambda: close_redis(redis))
    return Console(app, sampler, feed)
