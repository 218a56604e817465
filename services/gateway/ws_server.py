"""The WebSocket endpoints: the server, one handler per connection, and the drain.

Who may connect is decided at the handshake (handshake.py); each frame goes through
frames.py to the connection's NodeLink or SessionLink.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from services.gateway.auth import AuthError
from services.gateway.context import GatewayContext
from services.gateway.frames import ParseLane, dispatch_frame
from services.gateway.handshake import NODE_PATH, Admission, path_of
from services.gateway.limits import ByteBudget, RateGuard, frame_bytes
from services.gateway.node_link import NodeLink
from services.gateway.session_link import SessionLink

logger = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY_VIOLATION = 1008
DRAIN_POLL_S = 0.05
INBOUND_FRAMES = 4


class GatewayConnection(ServerConnection):
    """A WebSocket of this gateway. Node sockets get no keepalive pings: the nodes'
    own heartbeats show they are there, and silent ones are closed (idle_nodes.py).
    Session sockets keep them: an idle client sends nothing."""

    def start_keepalive(self) -> None:
        if self.request is not None and path_of(self.request.path) == NODE_PATH:
            return
        super().start_keepalive()


class WebSocketEndpoints:
    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx
        self._server: Server | None = None
        self.admission = Admission(ctx)
        self.links: set[NodeLink | SessionLink] = set()
        self._lane = ParseLane()

    async def start(self) -> int:
        limits = self._ctx.settings.limits
        self._server = await serve(
            self._handle,
            self._ctx.settings.ws_host,
            self._ctx.settings.ws_port,
            process_request=self.admission.process_request,
            create_connection=GatewayConnection,
            max_size=limits.max_frame_bytes,
            # Frames read ahead of the handler: at most this many per connection.
            max_queue=INBOUND_FRAMES,
            # Deflate costs CPU on every message; audio does not compress anyway.
            compression=None,
            ping_interval=20,
            ping_timeout=20,
            # A peer that ignores the closing handshake must not hold up a drain.
            close_timeout=2,
        )
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # the handler runs after a completed handshake
        ip = self.admission.client_ip(ws, ws.request)
        counter = self.admission.connections
        # The handshake checked the count too; handshakes racing each other end up here.
        if not counter.acquire(ip):
            await ws.close(CLOSE_TRY_AGAIN_LATER, "too many connections from your address")
            return
        try:
            await self._serve(ws, ip)
        finally:
            counter.release(ip)

    async def _serve(self, ws: ServerConnection, ip: str) -> None:
        request = ws.request
        assert request is not None  # the handler runs after a completed handshake
        path = path_of(request.path)
        try:
            identity = self.admission.identify(path, request)
        except AuthError as exc:  # pragma: no cover - the handshake already refused it
            await ws.close(CLOSE_POLICY_VIOLATION, str(exc))
            return
        limits = self._ctx.settings.limits
        link: NodeLink | SessionLink
        clock = self._ctx.clock
        if path == NODE_PATH:
            link = NodeLink(ws, self._ctx, identity, address=ip)
            guard = RateGuard(limits.node_rate, limits.rate_strikes, clock)
            budget = ByteBudget(limits.node_bytes, clock)
            open_sockets = self._ctx.metrics.connections["node"]
        else:
            link = SessionLink(ws, self._ctx, identity)
            guard = RateGuard(limits.session_rate, limits.rate_strikes, clock)
            budget = ByteBudget(limits.session_bytes, clock)
            open_sockets = self._ctx.metrics.connections["session"]
        self.links.add(link)
        open_sockets.inc()
        try:
            async for frame in ws:
                await dispatch_frame(link, guard, frame, self._lane)
                budget.charge(frame_bytes(frame))
                await _paced(ws, budget)
        except ConnectionClosed:
            pass
        finally:
            self.links.discard(link)
            open_sockets.dec()
            await link.closed()

    async def shutdown(self, timeout_s: float) -> None:
        """Drain: refuse new sockets, send nodes elsewhere, let answers in flight go out.

        Nodes are closed with 1012 at once (agents reconnect to another replica). Each
        session cuts what it has buffered and accepts nothing new; the answers it still
        awaits may arrive until the deadline, then each gets an error of its own. Only
        then are session sockets closed (1012), so no accepted utterance goes unanswered.
        """
        self._ctx.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        nodes = [link for link in self.links if isinstance(link, NodeLink)]
        sessions = [link for link in self.links if isinstance(link, SessionLink)]
        await asyncio.gather(
            *(link.ws.close(CLOSE_SERVICE_RESTART, "gateway draining; reconnect") for link in nodes)
        )
        for session in sessions:
            session.begin_drain()
        # A bounded poll: answers arrive over gRPC from other services, not from one event.
        while loop.time() < deadline and any(s.outstanding for s in sessions):  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_S)
        for session in sessions:
            session.give_up()
        await asyncio.gather(*(link.flush(max(0.1, deadline - loop.time())) for link in sessions))
        if self._server is not None:
            self._server.close(close_connections=True, code=CLOSE_SERVICE_RESTART)
            await self._server.wait_closed()
        # Offline reports of the nodes that left (bounded by the remaining drain time).
        await self._ctx.background.wait(max(0.1, deadline - loop.time()))


async def _paced(ws: ServerConnection, budget: ByteBudget) -> None:
    """Between two frames of a connection: one over its byte budget is not read again
    until it is back within it (or it closes). Meanwhile at most INBOUND_FRAMES of its
    frames wait read ahead; then the kernel's buffers fill and the peer's sends block:
    TCP backpressure, not frames read only to be refused."""
    while (wait_s := budget.wait_s()) > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ws.wait_closed(), wait_s)
            return  # closed (a drain, the peer gone): the next read ends the handler
