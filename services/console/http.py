"""The console's HTTP front: the page and its assets, a JSON API, a server-sent event
stream, and two explicit actions (drain a node, cancel a job) for operators.

Who asks: a bearer token (Authorization header) or the cookie a login sets, looked up in
the token table (lingua_common.operator_auth). Actions need an operator, a POST, and the
X-Lingua-Console header (a cross-site form cannot send it; the cookie is SameSite=Strict
too). Every answer carries a strict Content-Security-Policy: the page loads only what
this server serves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from lingua_common.operator_auth import ConsoleAuth, Principal, bearer_token
from lingua_common.ops import views
from lingua_common.ops.client import OpsError, SchedulerClient
from services.console.live import LiveFeed, TooManyClients
from services.console.overview import ConsoleSampler, Overview

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "lingua_console"
ACTION_HEADER = "X-Lingua-Console"
# A live stream sends a comment this often when nothing else went (keeps proxies open).
KEEPALIVE_S = 15.0
MAX_TOKEN_BYTES = 4096
MAX_REASON = 200
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

PRINCIPAL = web.RequestKey("principal", Principal)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


class ConsoleHttp:
    def __init__(
        self,
        sampler: ConsoleSampler,
        client: SchedulerClient,
        feed: LiveFeed,
        auth: ConsoleAuth,
        trace_url: str,
    ) -> None:
        self._sampler = sampler
        self._client = client
        self._feed = feed
        self._auth = auth
        self._trace_url = trace_url
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._headers, self._authenticate])
        app.router.add_get("/", self._index)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/logout", self._logout)
        app.router.add_get("/api/session", self._session)
        app.router.add_get("/api/overview", self._overview)
        app.router.add_get("/api/history", self._history)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/nodes/{node_id}/drain", self._drain)
        app.router.add_post("/api/jobs/{job_id}/cancel", self._cancel)
        return app

    async def start(self, host: str, port: int) -> int:
        self._runner = web.AppRunner(self.application(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound: int = self._runner.addresses[0][1]
        return bound

    async def stop(self) -> None:
        self._feed.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- middlewares --------------------------------------------------------------------

    @web.middleware
    async def _headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if isinstance(response, web.HTTPException):
            raise response
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/") or request.path == "/api/login":
            return await handler(request)
        principal = self._principal_of(request)
        if principal is None:
            return _error(401, "sign in with a console token")
        request[PRINCIPAL] = principal
        if request.method == "POST" and request.path != "/api/logout":
            if not principal.operator:
                return _error(403, "only an operator token (tenant *) may drain or cancel")
            if request.headers.get(ACTION_HEADER) != "1":
                return _error(403, f"actions need the {ACTION_HEADER}: 1 header")
        return await handler(request)

    def _principal_of(self, request: web.Request) -> Principal | None:
        token = bearer_token(request.headers.get("Authorization", ""))
        if not token:
            token = request.cookies.get(COOKIE, "")
        if len(token) > MAX_TOKEN_BYTES:
            return None
        return self._auth.principal(token)

    # --- pages and reads ----------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok\n")

    async def _session(self, request: web.Request) -> web.StreamResponse:
        principal = request[PRINCIPAL]
        return _json(
            {
                "tenant": principal.tenant,
                "operator": principal.operator,
                "auth_disabled": self._auth.disabled,
                "trace_url": self._trace_url,
            }
        )

    async def _overview(self, request: web.Request) -> web.StreamResponse:
        return _json(self._sampler.current.for_principal(request[PRINCIPAL]))

    async def _history(self, request: web.Request) -> web.StreamResponse:
        return _json(await self._sampler.history())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the current view at once, then each new one."""
        principal = request[PRINCIPAL]
        try:
            subscription = self._feed.join()
        except TooManyClients as error:
            return _error(503, f"too many live pages ({error}); try again later")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        try:
            await response.prepare(request)
            overview: Overview | None = self._sampler.current
            while overview is not None:
                body = orjson.dumps(overview.for_principal(principal))
                await response.write(b"event: overview\ndata: " + body + b"\n\n")
                try:
                    overview = await subscription.next(KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    overview = self._sampler.current
        except ConnectionResetError:
            pass  # the page went away
        finally:
            subscription.close()
        return response

    # --- login --------------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json(loads=orjson.loads)
        except (ValueError, orjson.JSONDecodeError):
            return _error(400, 'send JSON: {"token": "…"}')
        token = body.get("token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            return _error(400, "token: a non-empty string is required")
        principal = self._auth.principal(token)
        if principal is None:
            return _error(401, "unknown token")
        response = _json({"tenant": principal.tenant, "operator": principal.operator})
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
        return response

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        response = _json({"signed_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    # --- actions ------------------------------------------------------------------------

    async def _reason(self, request: web.Request, default: str) -> str:
        if not request.can_read_body:
            return default
        try:
            body = await request.json(loads=orjson.loads)
        except (ValueError, orjson.JSONDecodeError):
            return default
        reason = body.get("reason") if isinstance(body, dict) else None
        return reason[:MAX_REASON] if isinstance(reason, str) and reason else default

    async def _drain(self, request: web.Request) -> web.StreamResponse:
        node_id = request.match_info["node_id"]
        principal = request[PRINCIPAL]
        reason = await self._reason(request, "drained from the console")
        try:
            status = await self._client.drain_node(node_id, reason)
        except OpsError as error:
            return _error(_status_of(error), str(error))
        logger.info(
            "node drained from the console", extra={"node_id": node_id, "tenant": principal.tenant}
        )
        return _json({"node_id": node_id, "status": views.status_name(status)})

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        job_id = request.match_info["job_id"]
        principal = request[PRINCIPAL]
        reason = await self._reason(request, "cancelled from the console")
        try:
            job = await self._client.cancel_job(job_id, reason)
        except OpsError as error:
            return _error(_status_of(error), str(error))
        logger.info(
            "job cancelled from the console", extra={"job_id": job_id, "tenant": principal.tenant}
        )
        return _json(views.job_json(job, self._trace_url))


# A failed call's gRPC status -> the console's HTTP answer (the rest: 502, upstream).
HTTP_STATUS_OF = {"NOT_FOUND": 404, "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409}


def _status_of(error: OpsError) -> int:
    return HTTP_STATUS_OF.get(error.code, 502)
