"""The HTTP side of the WebSocket port: probes, routing and who may open a socket.

Refusals are plain HTTP answers to the upgrade request, before any WebSocket exists:
404 unknown path, 503 draining, 429 too many connections from one address, 401 missing
or invalid credentials (with `WWW-Authenticate: Bearer`).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from services.gateway.auth import Authenticator, AuthError, Identity
from services.gateway.client_address import FORWARDED_FOR, ClientAddress
from services.gateway.context import GatewayContext
from services.gateway.limits import ConnectionCounter

logger = logging.getLogger(__name__)

NODE_PATH = "/ws/node"
SESSION_PATH = "/ws/session"


def path_of(target: str) -> str:
    return urlsplit(target).path


def peer_ip(connection: ServerConnection) -> str:
    address = connection.remote_address
    return str(address[0]) if address else "?"


class Admission:
    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx
        self.auth = Authenticator(ctx.settings.auth)
        self.connections = ConnectionCounter(ctx.settings.limits.max_connections_per_ip)
        self._addresses = ClientAddress(ctx.settings.trusted_proxies)

    def client_ip(self, connection: ServerConnection, request: Request) -> str:
        """Where the socket comes from: its peer, or the client behind a trusted proxy."""
        forwarded = request.headers.get_all(FORWARDED_FOR)
        return self._addresses.of(peer_ip(connection), forwarded)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = path_of(request.path)
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
        ip = self.client_ip(connection, request)
        if self.connections.full(ip):
            logger.warning("too many connections from one address", extra={"ip": ip})
            return connection.respond(
                HTTPStatus.TOO_MANY_REQUESTS, "too many connections from your address\n"
            )
        try:
            self.identify(path, request)
        except AuthError as exc:
            logger.info("handshake refused", extra={"ip": ip, "path": path, "why": str(exc)})
            response = connection.respond(HTTPStatus.UNAUTHORIZED, f"{exc}\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="lingua"'
            return response
        return None

    def identify(self, path: str, request: Request) -> Identity:
        """The identity a handshake proves (raises AuthError)."""
        if path == NODE_PATH:
            return self.auth.node(request.headers, request.path)
        return self.auth.client(request.headers, request.path)
