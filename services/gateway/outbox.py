"""Ordered, bounded sends on one WebSocket.

One writer task per connection drains a queue bounded in messages and in bytes; a peer
that reads too slowly to keep up overflows it and is disconnected (1008), so the process
never grows without bound, whatever the size of the messages.
A send can be awaited until the frame was written, so "delivered" means written to an
open socket, never "handed to a socket that had already closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

CLOSE_POLICY_VIOLATION = 1008

_Item = tuple[bytes, asyncio.Future[bool] | None]


class Outbox:
    def __init__(self, ws: Connection, limit: int, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._ws = ws
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(limit)
        self._max_bytes = max_bytes
        self.queued_bytes = 0
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None
        self._task = asyncio.create_task(self._write_loop())

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, message: dict[str, Any]) -> bool:
        """Queue a message; False when the connection is closed or too far behind."""
        return self._put(orjson.dumps(message), None)

    async def send_and_wait(self, message: dict[str, Any]) -> bool:
        """Queue a message and wait until it was written; False if it never will be."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if not self._put(orjson.dumps(message), future):
            return False
        return await future

    def _put(self, data: bytes, future: asyncio.Future[bool] | None) -> bool:
        if self._closed:
            return False
        if self.queued_bytes + len(data) > self._max_bytes and self.queued_bytes:
            self._overflow()
            return False
        try:
            self._queue.put_nowait((data, future))
        except asyncio.QueueFull:
            self._overflow()
            return False
        self.queued_bytes += len(data)
        return True

    def _overflow(self) -> None:
        logger.warning("send queue overflow; dropping slow peer")
        self._closed = True
        self._close_task = asyncio.create_task(
            self._ws.close(CLOSE_POLICY_VIOLATION, "send queue overflow")
        )

    async def _write_loop(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                data, future = item
                self.queued_bytes -= len(data)
                try:
                    await self._ws.send(data, text=True)
                except ConnectionClosed:
                    self._closed = True
                    _resolve(future, False)
                    return
                _resolve(future, True)
        finally:
            self._closed = True
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    _resolve(item[1], False)

    async def drain(self, timeout_s: float) -> None:
        """Let queued messages go out (bounded), then stop the writer."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        await self.close()

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _resolve(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)
