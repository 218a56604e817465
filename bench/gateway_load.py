"""Load for one gateway process: many idle sessions, and heartbeat round trips at
saturation. The gateway's memory and CPU are read from /proc while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.gateway_proc import cpu_seconds, rss_kb
from tools.fleet.metrics import LatencySummary, Reservoir, summarize

log = logging.getLogger(__name__)

INIT = orjson.dumps(
    {
        "type": "session_init",
        "client_version": "bench/1",
        "platform": "web",
        "src_lang": "zh",
        "tgt_lang": "en",
    }
).decode()
OPEN_TIMEOUT_S = 30.0
SETTLE_S = 2.0  # after the last socket opened, before memory is read


async def open_session(url: str) -> ClientConnection:
    ws = await connect(
        url, open_timeout=OPEN_TIMEOUT_S, proxy=None, compression=None, close_timeout=1
    )
    try:
        await ws.send(INIT)
        async with asyncio.timeout(OPEN_TIMEOUT_S):
            while True:
                message = orjson.loads(await ws.recv())
                if message.get("type") == "session_init_ack":
                    ws.session_id = message["session_id"]  # type: ignore[attr-defined]
                    return ws
                if message.get("type") == "error":
                    raise RuntimeError(f"session_init refused: {message}")
    except BaseException:
        await ws.close()
        raise


@dataclass
class IdleReport:
    planned: int
    opened: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    open_s: float = 0.0
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    cpu_s: float = 0.0

    @property
    def kb_per_connection(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / self.opened if self.opened else 0.0

    @property
    def opens_per_s(self) -> float:
        return self.opened / self.open_s if self.open_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "opened": self.opened,
            "failures": self.failures,
            "open_s": self.open_s,
            "opens_per_s": self.opens_per_s,
            "rss_before_kb": self.rss_before_kb,
            "rss_after_kb": self.rss_after_kb,
            "kb_per_connection": self.kb_per_connection,
            "gateway_cpu_s": self.cpu_s,
        }


async def hold_idle(
    url: str, pid: int, count: int, batch: int, held: list[ClientConnection]
) -> IdleReport:
    """Open `count` sessions, `batch` at a time, and keep them (in `held`) idle."""
    report = IdleReport(planned=count)
    report.rss_before_kb = rss_kb(pid)
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    for first in range(0, count, batch):
        size = min(batch, count - first)
        results = await asyncio.gather(
            *(open_session(url) for _ in range(size)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                name = type(result).__name__
                report.failures[name] = report.failures.get(name, 0) + 1
            else:
                held.append(result)
        if report.failures and sum(report.failures.values()) > count // 10:
            log.warning("too many failed opens; stopping at %d", len(held))
            break
    report.open_s = time.perf_counter() - started
    report.opened = len(held)
    report.cpu_s = cpu_seconds(pid) - cpu_before
    await asyncio.sleep(SETTLE_S)  # let the last handshakes' garbage go
    report.rss_after_kb = rss_kb(pid)
    return report


async def close_all(held: list[ClientConnection], batch: int) -> None:
    for first in range(0, len(held), batch):
        await asyncio.gather(
            *(ws.close() for ws in held[first : first + batch]), return_exceptions=True
        )
    held.clear()


@dataclass
class ThroughputReport:
    sessions: int
    window: int
    round_trips: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    latency: LatencySummary = field(default_factory=lambda: summarize([]))

    @property
    def per_s(self) -> float:
        return self.round_trips / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def messages_per_core_s(self) -> float:
        """Messages in and out per second of gateway CPU (a round trip is two)."""
        return 2 * self.round_trips / self.cpu_s if self.cpu_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "window": self.window,
            "round_trips": self.round_trips,
            "wall_s": self.wall_s,
            "gateway_cpu_s": self.cpu_s,
            "round_trips_per_s": self.per_s,
            "gateway_cores": self.cores,
            "messages_per_core_s": self.messages_per_core_s,
            "latency": self.latency.as_dict(),
        }


async def _closed_loop(
    ws: ClientConnection, window: int, stop_at: float, samples: Reservoir, counter: list[int]
) -> None:
    """Keep `window` heartbeats outstanding on one session until `stop_at`."""
    session_id = ws.session_id  # type: ignore[attr-defined]
    sent_at: list[float] = []

    async def send() -> None:
        sent_at.append(time.perf_counter())
        beat = {"type": "client_heartbeat", "session_id": session_id, "timestamp": 1}
        await ws.send(orjson.dumps(beat).decode())

    for _ in range(window):
        await send()
    while sent_at:
        raw = await ws.recv()
        if orjson.loads(raw).get("type") != "server_heartbeat":
            continue
        now = time.perf_counter()
        samples.add(now - sent_at.pop(0))
        counter[0] += 1
        if now < stop_at:
            await send()


async def heartbeat_saturation(
    url: str, pid: int, sessions: int, window: int, duration_s: float
) -> ThroughputReport:
    report = ThroughputReport(sessions=sessions, window=window)
    opened = await asyncio.gather(*(open_session(url) for _ in range(sessions)))
    samples = Reservoir(20_000)
    counter = [0]
    try:
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        stop_at = started + duration_s
        await asyncio.wait_for(
            asyncio.gather(*(_closed_loop(ws, window, stop_at, samples, counter) for ws in opened)),
            duration_s + 30,
        )
        report.wall_s = time.perf_counter() - started
        report.cpu_s = cpu_seconds(pid) - cpu_before
    finally:
        with contextlib.suppress(Exception):
            await close_all(opened, 200)
    report.round_trips = counter[0]
    report.latency = summarize(samples.values)
    return report
