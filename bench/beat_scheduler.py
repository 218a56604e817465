"""Every heartbeat of a swarm from one timer: an exact total rate, evenly spread.

Node i beats on its own slot of a common grid: at t0 + (i + u_i) / N * interval + k *
interval (u_i uniform in [0, 1): jitter within the slot), so N nodes give N / interval
beats/s with no bursts, like agents that started at random times. A node joins the grid
when it registers (its first beat goes out at once, as agents do after the ack) and
keeps at least half an interval between those two beats.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.node_swarm import SwarmNode
from tools.fleet.metrics import Reservoir

log = logging.getLogger(__name__)

LAG_SAMPLES = 50_000
# A beat this late is skipped, not sent: after a stall of this process, sending every
# overdue beat at once would be a burst no real fleet produces.
MAX_LAG_S = 2.0


@dataclass(frozen=True)
class WindowReport:
    """What the scheduler did between begin_window() and end_window()."""

    sent: int
    failed: int
    skipped: int
    elapsed_s: float
    lag_s: list[float]  # how late each beat left, against its slot (a sample)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


class BeatScheduler:
    def __init__(
        self,
        interval_s: float,
        total_nodes: int,
        send: Callable[[SwarmNode], Awaitable[bool]],
        seed: int = 0,
    ) -> None:
        if interval_s <= 0 or total_nodes < 1:
            raise ValueError("interval must be > 0 and total_nodes >= 1")
        self.interval_s = interval_s
        self._total = total_nodes
        self._send = send
        self._rng = random.Random(seed)
        self._t0 = time.perf_counter()
        self._heap: list[tuple[float, int, SwarmNode]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.skipped = 0
        self._window: tuple[float, int, int, int] | None = None  # start, sent, failed, skipped
        self._lags = Reservoir(LAG_SAMPLES)

    async def join(self, node: SwarmNode) -> None:
        """A node just registered: its first beat now, then its slot on the grid."""
        now = time.perf_counter()
        await self._beat(node)
        slot = (node.index % self._total + self._rng.random()) / self._total * self.interval_s
        k = math.ceil((now + self.interval_s / 2 - self._t0 - slot) / self.interval_s)
        heapq.heappush(self._heap, (self._t0 + slot + k * self.interval_s, node.index, node))
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="beat-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def begin_window(self) -> None:
        self._window = (time.perf_counter(), self.sent, self.failed, self.skipped)
        self._lags = Reservoir(LAG_SAMPLES)

    def end_window(self) -> WindowReport:
        assert self._window is not None, "begin_window() first"
        started, sent, failed, skipped = self._window
        self._window = None
        return WindowReport(
            sent=self.sent - sent,
            failed=self.failed - failed,
            skipped=self.skipped - skipped,
            elapsed_s=time.perf_counter() - started,
            lag_s=self._lags.values,
        )

    async def _beat(self, node: SwarmNode) -> None:
        if await self._send(node):
            self.sent += 1
        else:
            self.failed += 1

    async def _run(self) -> None:
        while True:
            if not self._heap:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            due, index, node = self._heap[0]
            delay = due - time.perf_counter()
            if delay > 0:
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wakeup.wait()
                continue
            heapq.heappop(self._heap)
            if node.closed:
                continue  # gone: no more beats (counted by the swarm as lost)
            self._lags.add(-delay)
            if -delay > MAX_LAG_S:
                self.skipped += 1
            else:
                await self._beat(node)
            heapq.heappush(self._heap, (due + self.interval_s, index, node))
