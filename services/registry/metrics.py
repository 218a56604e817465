"""The registry's Prometheus metrics: heartbeats and registrations as counted where the
node scripts answered, and nodes by status as Redis holds them (read when scraped)."""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from lingua_common.keys import Keys
from lingua_common.redis_client import RedisClient, run_pipeline
from services.registry.model import NodeStatus

logger = logging.getLogger(__name__)

# node_heartbeat.lua's verdict on a beat -> outcome label.
HEARTBEAT_OUTCOMES = ("ok", "stale_epoch", "offline", "missing", "error")
# A scrape reads the status of at most this many nodes, a page per round trip.
MAX_NODES_COUNTED = 100_000
SCAN_PAGE = 1_000
# Counting costs ~15 us of client CPU per node. A scrape that comes sooner after the
# last count than this many times that count's duration is served the last count (a
# 10,000-node count of ~0.2 s is redone at most every 4 s, however many scrapers).
MAX_DUTY_FACTOR = 20


class RegistryMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        heartbeats = Counter(
            "lingua_heartbeats",
            "Node heartbeats the registry received, by outcome (ok, refused as "
            "stale_epoch / offline / missing (its record lost), or not recorded: error)",
            ["outcome"],
            registry=registry,
        )
        self._heartbeats = {outcome: heartbeats.labels(outcome) for outcome in HEARTBEAT_OUTCOMES}
        self._registrations = Counter(
            "lingua_node_registrations",
            "Node registrations accepted (each a new epoch of its node id)",
            registry=registry,
        )
        self.nodes = Gauge(
            "lingua_nodes", "Known nodes by status, from Redis", ["status"], registry=registry
        )
        for status in NodeStatus:
            self.nodes.labels(status.value)

    def heartbeat(self, outcome: str) -> None:
        self._heartbeats[outcome].inc()

    def registered(self) -> None:
        self._registrations.inc()


class NodeGauges:
    """Counts nodes by the status in their records, page by page (SSCAN of the node set,
    then one pipeline of HGETs per page: each key on its own slot, so cluster-safe)."""

    def __init__(self, client: RedisClient, keys: Keys, metrics: RegistryMetrics) -> None:
        self._r: Any = client
        self._keys = keys
        self._metrics = metrics
        self._next_count_at = 0.0

    async def refresh(self) -> None:
        started = time.monotonic()
        if started < self._next_count_at:
            return
        await self._count()
        self._next_count_at = started + MAX_DUTY_FACTOR * (time.monotonic() - started)

    async def _count(self) -> None:
        counts: collections.Counter[str] = collections.Counter()
        seen: set[bytes] = set()
        cursor = 0
        while True:
            cursor, members = await self._r.sscan(self._keys.nodes_all(), cursor, count=SCAN_PAGE)
            page = [m for m in members if m not in seen]  # SSCAN may repeat a member
            seen.update(page)

            def reads(pipe: Any, page: list[bytes] = page) -> None:
                for node_id in page:
                    pipe.hget(self._keys.node(node_id.decode()), "status")

            statuses = await run_pipeline(self._r, reads) if page else []
            # A record that expired (not yet forgotten) is no node any more.
            counts.update(s.decode() for s in statuses if s is not None)
            if int(cursor) == 0:
                break
            if len(seen) >= MAX_NODES_COUNTED:
                logger.warning("nodes by status: count cut short", extra={"nodes": len(seen)})
                break
        for status in NodeStatus:
            self._metrics.nodes.labels(status.value).set(counts[status.value])
