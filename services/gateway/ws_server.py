"""The WebSocket endpoints: routing, framing errors, health probes."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from services.gateway.context import GatewayContext
from services.gateway.node_link import NodeLink
from services.gateway.session_link import SessionLink
from services.gateway.wire import out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)

NODE_PATH = "/ws/node"
SESSION_PATH = "/ws/session"
CLOSE_SERVICE_RESTART = 1012


class WebSocketEndpoints:
    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx
        self._server: Server | None = None
        self.links: set[NodeLink | SessionLink] = set()

    async def start(self) -> int:
        limits = self._ctx.settings.limits
        self._server = await serve(
            self._handle,
            self._ctx.settings.ws_host,
            self._ctx.settings.ws_port,
            process_request=self._process_request,
            max_size=limits.max_frame_bytes,
            # Deflate costs CPU on every message; audio does not compress anyway.
            compression=None,
            ping_interval=20,
            ping_timeout=20,
            # A peer that ignores the closing handshake must not hold up a drain.
            close_timeout=2,
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            if self._ctx.draining:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
            return connection.respond(HTTPStatus.OK, "ready\n")
        if path not in (NODE_PATH, SESSION_PATH):
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown path\n")
        if self._ctx.draining:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "draining\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        path = urlsplit(ws.request.path if ws.request else "").path
        link: NodeLink | SessionLink = (
            NodeLink(ws, self._ctx) if path == NODE_PATH else SessionLink(ws, self._ctx)
        )
        self.links.add(link)
        try:
            async for frame in ws:
                await self._dispatch(link, frame)
        except ConnectionClosed:
            pass
        finally:
            self.links.discard(link)
            await link.closed()

    async def _dispatch(self, link: NodeLink | SessionLink, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            link.outbox.send(
                out.error("INVALID_MESSAGE", "binary frames are not part of protocol v1")
            )
            return
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            link.outbox.send(out.error("INVALID_MESSAGE", f"malformed JSON: {exc}"))
            return
        if not isinstance(msg, dict):
            link.outbox.send(out.error("INVALID_MESSAGE", "a message must be a JSON object"))
            return
        if not isinstance(msg.get("type"), str):
            link.outbox.send(out.error("INVALID_MESSAGE", "missing required field 'type'"))
            return
        try:
            await link.handle(msg)
        except WireError as exc:
            link.outbox.send(out.error("INVALID_MESSAGE", f"{msg['type']}: {exc}"))
        except Exception:
            # One bad message must never take the connection (or the process) down.
            logger.exception("message handling failed", extra={"type": msg.get("type")})
            link.outbox.send(out.error("INTERNAL_ERROR", f"{msg['type']}: internal error"))

    async def shutdown(self, timeout_s: float) -> None:
        """Drain: refuse new sockets, send nodes elsewhere, let answers in flight go out."""
        self._ctx.draining = True
        # 1012 "service restart": agents reconnect (to another replica) at once.
        await asyncio.gather(
            *(
                link.ws.close(CLOSE_SERVICE_RESTART, "gateway draining; reconnect")
                for link in list(self.links)
                if isinstance(link, NodeLink)
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # A bounded poll: answers arrive over gRPC from other services, not from one event.
        while loop.time() < deadline and any(  # noqa: ASYNC110
            isinstance(link, SessionLink) and link.outstanding for link in self.links
        ):
            await asyncio.sleep(0.05)
        for link in list(self.links):
            await link.outbox.drain(max(0.0, deadline - loop.time()))
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        # Offline reports of the nodes that left (bounded by the remaining drain time).
        if self._ctx.background:
            await asyncio.wait(list(self._ctx.background), timeout=max(0.1, deadline - loop.time()))
