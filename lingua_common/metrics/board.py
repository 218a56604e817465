"""The metrics board: each replica of a service writes its lingua_* metrics to Redis
every few seconds, so the console reads every replica's numbers from one place.

Why not scrape: the console would need every replica's address and a network path to
its metrics port; Prometheus has both, a console replica has only Redis and the gRPC
Services. A replica's text lives under its own key with a TTL of a few intervals, and
a sorted set says who published when: a replica that died drops off by itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lingua_common.clock import SystemClock
from lingua_common.keys import Keys
from lingua_common.redis_client import RedisClient, run_pipeline

if TYPE_CHECKING:
    from lingua_common.grpc_app import ServiceApp


# A replica's snapshot outlives this many of its publish intervals (one late write or a
# slow Redis moment must not make it vanish from the console).
TTL_INTERVALS = 3
# Board entries older than this many intervals are removed by whoever reads.
FORGET_INTERVALS = 30
# A reader takes at most this many replicas (bounded work per read).
MAX_REPLICAS = 200
PREFIX = b"lingua_"
HELP_PREFIXES = (b"# HELP lingua_", b"# TYPE lingua_")

Render = Callable[[], Awaitable[bytes]]


def replica_name(service: str) -> str:
    """Unique per process (tests run several replicas of a service in one process)."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def lingua_families(text: bytes) -> bytes:
    """Only the lingua_* families of a Prometheus text (not process_*, python_*)."""
    kept = [
        line
        for line in text.splitlines()
        if line.startswith(PREFIX) or line.startswith(HELP_PREFIXES)
    ]
    return b"\n".join(kept) + b"\n"


class MetricsBoard:
    """Redis access of the board: publish one replica's text, read every live replica's."""

    def __init__(self, client: RedisClient, keys: Keys) -> None:
        self._r: Any = client
        self._keys = keys

    async def publish(
        self, service: str, replica: str, text: bytes, now_ms: int, ttl_ms: int
    ) -> None:
        member = f"{service} {replica}"

        def writes(pipe: Any) -> None:
            pipe.set(self._keys.metrics_snapshot(service, replica), text, px=ttl_ms)
            pipe.zadd(self._keys.metrics_board(), {member: now_ms})

        await run_pipeline(self._r, writes)

    async def read(self, service: str, now_ms: int, max_age_ms: int) -> dict[str, str]:
        """replica -> Prometheus text, for every replica of `service` heard within
        `max_age_ms`."""
        board = self._keys.metrics_board()
        await self._r.zremrangebyscore(board, "-inf", now_ms - FORGET_INTERVALS * max_age_ms)
        members = await self._r.zrangebyscore(
            board, now_ms - max_age_ms, "+inf", start=0, num=MAX_REPLICAS * 4
        )
        replicas = []
        for member in members:
            name, _, replica = _text(member).partition(" ")
            if name == service:
                replicas.append(replica)
        replicas = replicas[:MAX_REPLICAS]
        if not replicas:
            return {}

        def reads(pipe: Any) -> None:
            for replica in replicas:
                pipe.get(self._keys.metrics_snapshot(service, replica))

        texts = await run_pipeline(self._r, reads)
        return {replica: _text(text) for replica, text in zip(replicas, texts, strict=True) if text}


class MetricsPublisher:
    """A service's background loop: render (gauges refreshed, as for a scrape), keep the
    lingua_* families, write them to the board."""

    def __init__(
        self,
        board: MetricsBoard,
        service: str,
        render: Render,
        interval_ms: int,
        now_ms: Callable[[], int],
    ) -> None:
        self._board = board
        self._service = service
        self._render = render
        self._interval_ms = interval_ms
        self._now_ms = now_ms
        self.replica = replica_name(service)

    async def publish_once(self) -> None:
        text = lingua_families(await self._render())
        await self._board.publish(
            self._service,
            self.replica,
            text,
            self._now_ms(),
            TTL_INTERVALS * self._interval_ms,
        )

    async def run(self) -> None:
        while True:
            await self.publish_once()
            await asyncio.sleep(self._interval_ms / 1000)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def publish_metrics(app: ServiceApp, client: RedisClient, keys: Keys) -> None:
    """Have `app` write its lingua_* metrics to the board (LINGUA_METRICS_PUBLISH_MS)."""
    interval_ms = app.settings.metrics_publish_ms
    if interval_ms <= 0:
        return
    publisher = MetricsPublisher(
        MetricsBoard(client, keys), app.name, app.metrics.render, interval_ms, SystemClock().now_ms
    )
    app.run_in_background(publisher.run)
