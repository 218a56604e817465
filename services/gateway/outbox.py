"""Ordered, bounded sends on one WebSocket.

Messages queue in order and one writer at a time sends them; the writer task exists only
while there is something to send (an idle connection costs no task). The queue is bounded
in messages and in bytes: a peer that reads too slowly to keep up overflows it and is
disconnected (1008), so the process never grows without bound, whatever the messages.
A send can be awaited until the frame was written, so "delivered" means written to an
open socket, never "handed to a socket that had already closed".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
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
        self._limit = limit
        self._max_bytes = max_bytes
        self._items: deque[_Item] = deque()
        self.queued_bytes = 0
        self._closed = False
        self._writer: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None

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
        too_many = len(self._items) >= self._limit
        # One message larger than the whole budget may still go out alone.
        too_big = self.queued_bytes and self.queued_bytes + len(data) > self._max_bytes
        if too_many or too_big:
            self._overflow()
            return False
        self._items.append((data, future))
        self.queued_bytes += len(data)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        return True

    def _overflow(self) -> None:
        logger.warning("send queue overflow; dropping slow peer")
        self._closed = True
        self._fail_queued()
        self._close_task = asyncio.create_task(
            self._ws.close(CLOSE_POLICY_VIOLATION, "send queue overflow")
        )

    async def _write(self) -> None:
        try:
            while self._items:
                data, future = self._items.popleft()
                self.queued_bytes -= len(data)
                try:
                    await self._ws.send(data, text=True)
                except ConnectionClosed:
                    self._closed = True
                    _resolve(future, False)
                    return
                except BaseException:
                    _resolve(future, False)  # cancelled (closing) mid-send: not delivered
                    raise
                _resolve(future, True)
        finally:
            # No await between the emptiness check above and here: a message queued
            # after this point starts a new writer, after this one, so order holds.
            self._writer = None
            if self._closed:
                self._fail_queued()

    def _fail_queued(self) -> None:
        while self._items:
            _resolve(self._items.popleft()[1], False)
        self.queued_bytes = 0

    async def drain(self, timeout_s: float) -> None:
        """Let queued messages go out (bounded), then stop."""
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(writer), timeout_s)
        await self.close()

    async def close(self) -> None:
        self._closed = True
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        self._fail_queued()


def _resolve(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)
