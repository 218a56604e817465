"""GET /metrics over a minimal HTTP/1.1 listener (asyncio streams, one request per
connection). Anything else is refused cheaply: 404 other paths, 405 other methods,
431 a request head over MAX_REQUEST_BYTES, 400 what is not HTTP, and a peer that does
not finish its request within READ_TIMEOUT_S is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from urllib.parse import urlsplit

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
MAX_REQUEST_BYTES = 8 * 1024
READ_TIMEOUT_S = 5.0

Render = Callable[[], Awaitable[bytes]]


def http_response(
    status: HTTPStatus,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    headers = [
        f"HTTP/1.1 {status.value} {status.phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in extra_headers),
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body


class MetricsEndpoint:
    def __init__(self, render: Render) -> None:
        self._render = render
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen (port 0: any free port); returns the bound port."""
        self._server = await asyncio.start_server(self._handle, host, port, limit=MAX_REQUEST_BYTES)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(list(self._handlers))
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            response = await self._respond(reader)
            if response:
                writer.write(response)
                await writer.drain()
        except (ConnectionError, TimeoutError):
            pass  # the scraper went away or never finished its request
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> bytes:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        except asyncio.LimitOverrunError:
            return http_response(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, b"request too large\n")
        except asyncio.IncompleteReadError:
            return b""  # closed before the end of its request: nobody to answer
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return http_response(HTTPStatus.BAD_REQUEST, b"bad request\n")
        method, target, _ = parts
        if urlsplit(target).path != METRICS_PATH:
            return http_response(HTTPStatus.NOT_FOUND, b"not found\n")
        if method != "GET":
            return http_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                b"method not allowed\n",
                extra_headers=(("Allow", "GET"),),
            )
        try:
            body = await self._render()
        except Exception:
            logger.exception("metrics rendering failed")
            return http_response(HTTPStatus.INTERNAL_SERVER_ERROR, b"metrics unavailable\n")
        return http_response(HTTPStatus.OK, body, CONTENT_TYPE_PLAIN_0_0_4)
