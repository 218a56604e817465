"""What the console shows, refreshed once per interval by every console replica.

Each tick reads the nodes (registry), the pools (pool) and every dispatcher and gateway
replica's metrics (the metrics board), and — in the replica that takes the interval's
slot — adds one chart point. The current view is then what every replica serves and
streams; nothing in it is needed by another replica (the history is in Redis).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from lingua.common.v1 import job_pb2
from lingua_common.clock import Clock
from lingua_common.metrics.aggregate import Snapshot
from lingua_common.metrics.board import MetricsBoard, replica_name
from lingua_common.operator_auth import Principal
from lingua_common.ops import stats, views
from lingua_common.ops.client import OpsError, SchedulerClient
from services.console import charts
from services.console.history import HistoryStore, KeptTotals, Point
from services.console.live import LiveFeed
from services.console.settings import ConsoleSettings

logger = logging.getLogger(__name__)

BOARD_SERVICES = ("dispatcher", "gateway")
# A new point needs totals at most this many intervals old (else it would smear a long
# gap into one rate); a point closer than half an interval to the last one is skipped.
MAX_GAP_INTERVALS = 5


@dataclass
class Overview:
    """The console's current view (as JSON-able parts) and when it was built."""

    at_ms: int = 0
    nodes: list[dict[str, Any]] = field(default_factory=list)
    nodes_truncated: bool = False
    by_status: dict[str, int] = field(default_factory=dict)
    pools: list[dict[str, Any]] = field(default_factory=list)
    load: dict[str, Any] | None = None
    waiting_total: int | None = None
    connections: dict[str, int] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    point: dict[str, Any] | None = None
    # Jobs over the whole chart history (the last minutes).
    totals: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def for_principal(self, principal: Principal) -> dict[str, Any]:
        """The view as one principal may see it: a tenant sees only its own failures."""
        failures = [f for f in self.failures if principal.may_see_tenant(f["tenant_id"])]
        return {
            "at_ms": self.at_ms,
            "nodes": self.nodes,
            "nodes_truncated": self.nodes_truncated,
            "by_status": self.by_status,
            "pools": self.pools,
            "load": self.load,
            "waiting_total": self.waiting_total,
            "connections": self.connections,
            "replicas": self.replicas,
            "failures": failures,
            "point": self.point,
            "totals": self.totals,
            "problems": self.problems,
        }


class ConsoleSampler:
    def __init__(
        self,
        client: SchedulerClient,
        board: MetricsBoard,
        history: HistoryStore,
        feed: LiveFeed,
        clock: Clock,
        settings: ConsoleSettings,
    ) -> None:
        self._client = client
        self._board = board
        self._history = history
        self._feed = feed
        self._clock = clock
        self._settings = settings
        self._replica = replica_name("console")
        self._failures_due_ms = 0
        self.current = Overview()

    async def history(self) -> dict[str, list[Any]]:
        return charts.series(await self._history.points(), self._settings.latency_window_ms)

    async def run(self) -> None:
        interval_s = self._settings.sample_interval_ms / 1000
        while True:
            await self.tick_once()
            await asyncio.sleep(interval_s)

    async def tick_once(self) -> Overview:
        """One refresh: read everything, maybe add a chart point, publish the view."""
        now = self._clock.now_ms()
        problems: list[str] = []
        overview = Overview(at_ms=now, failures=self.current.failures)
        (nodes, more), pools = await self._nodes_and_pools(problems)
        rows = views.node_rows(nodes, pools)
        overview.nodes = [row.to_json(now) for row in rows]
        overview.nodes_truncated = more
        overview.by_status = views.status_counts(rows)
        snapshot = await self._snapshot(now, problems)
        overview.replicas = _replica_counts(snapshot)
        waiting = stats.waiting_by_pair(snapshot) if stats.has_dispatcher(snapshot) else None
        overview.pools = [row.to_json() for row in views.pool_rows(pools, nodes, waiting)]
        overview.waiting_total = stats.waiting_total(snapshot)
        overview.connections = stats.connections(snapshot)
        await self._maybe_add_point(now, snapshot, overview)
        points = await self._history.points()
        overview.point = charts.latest(points, self._settings.latency_window_ms)
        overview.load = overview.point
        overview.totals = charts.window_totals(points)
        if now >= self._failures_due_ms:
            overview.failures = await self._failures(problems)
            self._failures_due_ms = now + self._settings.failures_interval_ms
        overview.problems = problems
        self.current = overview
        self._feed.publish(overview)
        return overview

    async def _nodes_and_pools(
        self, problems: list[str]
    ) -> tuple[tuple[list[Any], bool], list[Any]]:
        results = await asyncio.gather(
            self._client.list_nodes(self._settings.max_nodes),
            self._client.list_pools(),
            return_exceptions=True,
        )
        nodes_result, pools_result = results
        if isinstance(nodes_result, OpsError):
            problems.append(str(nodes_result))
            nodes_result = ([], False)
        if isinstance(pools_result, OpsError):
            problems.append(str(pools_result))
            pools_result = []
        for result in (nodes_result, pools_result):
            if isinstance(result, BaseException):
                raise result
        return nodes_result, pools_result  # type: ignore[return-value]

    async def _snapshot(self, now: int, problems: list[str]) -> Snapshot:
        texts: dict[str, str] = {}
        for service in BOARD_SERVICES:
            found = await self._board.read(service, now, self._settings.board_max_age_ms)
            texts.update({f"{service}/{replica}": text for replica, text in found.items()})
        if not any(name.startswith("dispatcher/") for name in texts):
            problems.append("no dispatcher published metrics lately (load and waiting unknown)")
        return Snapshot.of_texts(now, texts)

    async def _maybe_add_point(self, now: int, snapshot: Snapshot, overview: Overview) -> None:
        interval = self._settings.sample_interval_ms
        if not await self._history.take_slot(now // interval, self._replica, 2 * interval):
            return
        current = KeptTotals(now, snapshot.rate_totals())
        kept = await self._history.totals()
        if kept is None or now - kept.at_ms > MAX_GAP_INTERVALS * interval:
            await self._history.keep_totals(current)
            return
        if now - kept.at_ms < interval // 2:
            return
        before = Snapshot(kept.at_ms, kept.replicas)
        point: Point = {
            "t": now,
            **stats.Interval.between(before, snapshot).to_json(),
            "waiting": overview.waiting_total,
            "nodes": overview.by_status,
            "connections": overview.connections,
        }
        # An Interval takes increases of rate totals only, so `before` needs no gauges.
        await self._history.append(point, current)

    async def _failures(self, problems: list[str]) -> list[dict[str, Any]]:
        try:
            failed = await self._client.list_jobs(
                state=job_pb2.JOB_STATE_FAILED, limit=self._settings.failures_shown
            )
        except OpsError as error:
            problems.append(str(error))
            return self.current.failures
        return [views.job_json(job, self._settings.trace_url) for job in failed]


def _replica_counts(snapshot: Snapshot) -> dict[str, int]:
    counts: dict[str, int] = {service: 0 for service in BOARD_SERVICES}
    for name in snapshot.replicas:
        service = name.partition("/")[0]
        counts[service] = counts.get(service, 0) + 1
    return counts
