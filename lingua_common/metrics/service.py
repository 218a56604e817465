"""The metrics of one service app: its own registry, the metrics every service has, and
the hooks that refresh Redis-backed gauges just before a scrape renders them.

Each app owns a CollectorRegistry (never the global one): tests run several services in
one process, and each must export only its own series.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from lingua_common.interceptors import DEPENDENCY_ERRORS
from lingua_common.link import COUNTERS
from lingua_common.redis_client import RoundTrips
from lingua_common.rpc_metrics import RpcMetrics

logger = logging.getLogger(__name__)

ScrapeHook = Callable[[], Awaitable[None]]

# A scrape waits at most this long for its gauges; then it renders the previous values.
REFRESH_TIMEOUT_S = 2.0

# Latency buckets (seconds): a job path of a few ms up to retries and waits of seconds.
LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class RoundTripCollector(Collector):
    """lingua_redis_round_trips_total: read from the process's Redis connections."""

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "lingua_redis_round_trips",
            "Round trips to Redis from this process (a command, or a pipeline to one server)",
        )
        family.add_metric([], RoundTrips.count)
        yield family


class LinkCollector(Collector):
    """lingua_link_frames_total / lingua_link_messages_total: the job path's links."""

    def collect(self) -> Iterator[Metric]:
        frames = CounterMetricFamily(
            "lingua_link_frames",
            "Frames on the job path's links (gateway <-> dispatcher), by direction",
            labels=["direction"],
        )
        messages = CounterMetricFamily(
            "lingua_link_messages",
            "Messages in those frames (messages per frame: how well the links batch)",
            labels=["direction"],
        )
        frames.add_metric(["sent"], COUNTERS.frames_sent)
        frames.add_metric(["received"], COUNTERS.frames_received)
        messages.add_metric(["sent"], COUNTERS.messages_sent)
        messages.add_metric(["received"], COUNTERS.messages_received)
        yield frames
        yield messages


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        redis_errors = Counter(
            "lingua_redis_errors",
            "Redis unreachable or failing: in a gRPC call (answered UNAVAILABLE), "
            "a background loop, or a scrape's gauge refresh",
            ["where"],
            registry=self.registry,
        )
        self.redis_errors_rpc = redis_errors.labels("rpc")
        self.redis_errors_background = redis_errors.labels("background")
        self._redis_errors_scrape = redis_errors.labels("scrape")
        self._refresh_errors = Counter(
            "lingua_metrics_refresh_errors",
            "Gauge refreshes at scrape time that failed or timed out (gauges went stale)",
            registry=self.registry,
        )
        self.registry.register(RoundTripCollector())
        self.registry.register(LinkCollector())
        self.rpc = RpcMetrics(self.registry)
        # api: service (the service-to-service API) or team; reason: missing, wrong,
        # team_token (a team's token on the service-to-service API).
        self.auth_refused = Counter(
            "lingua_grpc_auth_refused",
            "gRPC calls refused for their credentials",
            ["api", "reason"],
            registry=self.registry,
        )
        self._hooks: list[ScrapeHook] = []
        # One refresh at a time: concurrent scrapers must not multiply the Redis reads.
        self._refreshing = asyncio.Lock()

    def on_scrape(self, hook: ScrapeHook) -> None:
        """`hook` sets gauges whose truth lives elsewhere (Redis); it runs before each
        scrape renders, bounded by REFRESH_TIMEOUT_S together with the others."""
        self._hooks.append(hook)

    async def render(self) -> bytes:
        """The Prometheus text format, gauges refreshed first (best effort)."""
        await self.refresh()
        return generate_latest(self.registry)

    async def refresh(self) -> None:
        if not self._hooks:
            return
        async with self._refreshing:
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(*(hook() for hook in self._hooks), return_exceptions=True),
                    REFRESH_TIMEOUT_S,
                )
            except TimeoutError:
                self._refresh_errors.inc()
                logger.warning("metrics refresh timed out", extra={"timeout_s": REFRESH_TIMEOUT_S})
                return
        for hook, result in zip(self._hooks, results, strict=True):
            if isinstance(result, Exception):
                self._refresh_errors.inc()
                if isinstance(result, DEPENDENCY_ERRORS):
                    self._redis_errors_scrape.inc()
                logger.warning(
                    "metrics refresh failed",
                    extra={"hook": getattr(hook, "__qualname__", ""), "error": repr(result)},
                )
