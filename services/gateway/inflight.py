"""Work one connection has under way, bounded in count and in bytes.

A peer's messages become calls to other services that run concurrently. Admission waits
while the connection is at its bound, which stops reading that socket: TCP pushes back on
the peer instead of the gateway buffering without end, and nothing is dropped (a result
waits its turn rather than being refused). One oversized item is let through alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class InFlight:
    def __init__(self, max_tasks: int, max_bytes: int) -> None:
        self._max_tasks = max_tasks
        self._max_bytes = max_bytes
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self.bytes = 0

    @property
    def count(self) -> int:
        return len(self._tasks)

    def _room_for(self, cost: int) -> bool:
        if not self._tasks:
            return True
        return len(self._tasks) < self._max_tasks and self.bytes + cost <= self._max_bytes

    async def run(self, coro: Coroutine[Any, Any, None], cost: int) -> None:
        """Wait for room, then start `coro` in the background."""
        try:
            async with self._changed:
                await self._changed.wait_for(lambda: self._room_for(cost))
        except BaseException:
            coro.close()
            raise
        self.bytes += cost
        task = asyncio.create_task(self._guarded(coro, cost))
        self._tasks.add(task)

    async def _guarded(self, coro: Coroutine[Any, Any, None], cost: int) -> None:
        try:
            await coro
        except Exception:
            # The work's own errors are its business; it must not take the link down.
            logger.exception("background work failed")
        finally:
            self.bytes -= cost
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            async with self._changed:
                self._changed.notify_all()
