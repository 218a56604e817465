"""Who may call which gRPC API (DESIGN.md "Who may call what").

Two APIs, each on its own server:
  - the service-to-service API (the main gRPC port of every service: GatewayLinkService,
    RegistryService, PoolService, GatewayService): only the scheduler's own services,
    presenting the service credential LINGUA_SERVICE_TOKEN as `authorization: Bearer …`;
  - the team API (DispatcherService, on the dispatcher's team port): internal teams,
    each presenting a team token of LINGUA_TEAM_TOKENS (`token:tenant,…`; tenant `*` is
    an operator who sees every tenant), or a client certificate (mTLS, where the
    deployment provides one; the tenant is the certificate's common name). The service
    credential is an operator there too (the console and the `lingua` command use it).
A team token is never accepted on the service-to-service API. Every secret is compared
in constant time (only digests are kept). Health and reflection stay open.

With LINGUA_AUTH_DISABLED=true every call is let in (a warning at start): a caller
presenting a known team token is still scoped to its tenant, anyone else is an
operator. The caller of the current call is `current_caller()` (set per call by
ApiAuthInterceptor, read by the servicers).
"""

from __future__ import annotations

import contextvars
import hmac
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import grpc
from prometheus_client import Counter

from lingua_common import limits
from lingua_common.env import SettingsError, env_bool, env_secret, env_str
from lingua_common.operator_auth import (
    AUTHORIZATION,
    OPERATOR_TENANT,
    TokenTable,
    bearer_token,
    token_digest,
)

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor

logger = logging.getLogger(__name__)

Api = Literal["service", "team"]
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
REFUSAL_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True)
class TlsSettings:
    """The team port's TLS (LINGUA_TLS_CERT_FILE, _KEY_FILE). With
    LINGUA_TLS_CLIENT_CA_FILE every caller of the port presents a client certificate
    that CA signed (mTLS); its common name is the caller's tenant, unless a team token
    sent along says otherwise."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""

    def server_credentials(self) -> grpc.ServerCredentials:
        def read(path: str) -> bytes:
            try:
                with open(path, "rb") as pem:
                    return pem.read()
            except OSError as exc:
                raise SettingsError(f"cannot read {path!r}: {exc.strerror}") from exc

        pair = (read(self.key_file), read(self.cert_file))
        if not self.client_ca_file:
            return grpc.ssl_server_credentials([pair])
        # With a client CA every caller of the port presents a certificate it signed.
        return grpc.ssl_server_credentials(
            [pair], root_certificates=read(self.client_ca_file), require_client_auth=True
        )


@dataclass(frozen=True)
class ApiAuthSettings:
    """What the gRPC servers accept, and the credential this service presents."""

    disabled: bool = False
    # The scheduler's service credential: presented on every internal call, and the
    # only key to the service-to-service API.
    service_token: str = field(default="", repr=False)
    team_tokens: TokenTable = field(default_factory=TokenTable, repr=False)
    tls: TlsSettings | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiAuthSettings:
        tls = None
        cert, key = (
            env_str(env, "LINGUA_TLS_CERT_FILE", ""),
            env_str(env, "LINGUA_TLS_KEY_FILE", ""),
        )
        if cert or key:
            if not (cert and key):
                raise SettingsError("LINGUA_TLS_CERT_FILE and LINGUA_TLS_KEY_FILE go together")
            tls = TlsSettings(cert, key, env_str(env, "LINGUA_TLS_CLIENT_CA_FILE", ""))
        return cls(
            disabled=env_bool(env, "LINGUA_AUTH_DISABLED", False),
            service_token=env_secret(env, "LINGUA_SERVICE_TOKEN"),
            team_tokens=TokenTable.parse(
                env_secret(env, "LINGUA_TEAM_TOKENS"), "LINGUA_TEAM_TOKENS"
            ),
            tls=tls,
        )

    def validate(self) -> None:
        if not self.disabled and not self.service_token:
            raise SettingsError(
                "LINGUA_SERVICE_TOKEN (or LINGUA_SERVICE_TOKEN_FILE) is required unless "
                "LINGUA_AUTH_DISABLED=true: the services present it to each other"
            )


@dataclass(frozen=True)
class Caller:
    """Who makes the current call: a scheduler service, a team's tenant, or anyone
    (authentication disabled)."""

    kind: Literal["service", "team", "open"]
    tenant: str = OPERATOR_TENANT

    @property
    def operator(self) -> bool:
        """Sees every tenant."""
        return self.tenant == OPERATOR_TENANT


SERVICE = Caller("service")
OPEN = Caller("open")
_caller: contextvars.ContextVar[Caller] = contextvars.ContextVar("lingua_caller")


def current_caller() -> Caller:
    """The caller of the gRPC call being handled (raises LookupError outside one)."""
    return _caller.get()


class Refusal(Exception):
    def __init__(self, status: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class Authenticator:
    """Decides who a call's credentials make its caller, for one API."""

    def __init__(self, settings: ApiAuthSettings, api: Api) -> None:
        self._disabled = settings.disabled
        self._service = token_digest(settings.service_token) if settings.service_token else None
        self._teams = settings.team_tokens
        self._api = api

    def caller(self, metadata: Any, certificate_name: str = "") -> Caller:
        """The caller, or Refusal."""
        token = ""
        for key, value in metadata or ():
            if key == AUTHORIZATION:
                token = bearer_token(str(value))
        digest = token_digest(token) if token else b""
        is_service = (
            self._service is not None
            and bool(digest)
            and hmac.compare_digest(digest, self._service)
        )
        if is_service:
            return SERVICE
        team = self._teams.lookup(token) if token else None
        if self._api == "service":
            if self._disabled:
                return OPEN
            if team is not None:
                raise Refusal(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "team_token",
                    "a team token cannot call the service-to-service API (the team API is "
                    "DispatcherService on the dispatcher's team port)",
                )
            raise self._unauthenticated(token)
        if team is not None:
            return Caller("team", team.tenant)
        if certificate_name:
            return Caller("team", certificate_name)
        if self._disabled:
            return OPEN
        raise self._unauthenticated(token)

    def _unauthenticated(self, token: str) -> Refusal:
        if not token:
            return Refusal(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing",
                "no credentials: send gRPC metadata 'authorization: Bearer <token>'",
            )
        return Refusal(grpc.StatusCode.UNAUTHENTICATED, "wrong", "the credentials are not valid")


def certificate_name(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The tenant a verified client certificate names by its common name ("" without
    mTLS, or when the name is no valid tenant id)."""
    auth = context.auth_context()
    for name in auth.get("x509_common_name") or ():
        text = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        try:
            limits.TENANT.check("x509_common_name", text)
        except limits.LimitError:
            return ""
        return text
    return ""


class ApiAuthInterceptor(Interceptor):
    """Authenticates every call of one server (health and reflection stay open) and
    makes its caller current for the handler."""

    def __init__(
        self,
        settings: ApiAuthSettings,
        api: Api,
        refused: Counter,
        mtls: bool = False,
    ) -> None:
        self._authenticator = Authenticator(settings, api)
        self._api = api
        self._mtls = mtls
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}
        # lingua_grpc_auth_refused_total{api, reason} (ServiceMetrics).
        self._refused = refused
        self._last_logged: dict[str, float] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = wrap_handler(handler, self._admit)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    async def _admit(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        name = certificate_name(context) if self._mtls else ""
        try:
            caller = self._authenticator.caller(context.invocation_metadata(), name)
        except Refusal as refusal:
            self._refused.labels(self._api, refusal.reason).inc()
            self._log(refusal, context)
            await context.abort(refusal.status, refusal.message)
            raise AssertionError("abort returns only by raising") from None
        _caller.set(caller)

    def _log(self, refusal: Refusal, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """One line per kind of refusal every few seconds: a flood cannot flood the log."""
        now = time.monotonic()
        if now - self._last_logged.get(refusal.reason, -1e9) < REFUSAL_LOG_INTERVAL_S:
            return
        self._last_logged[refusal.reason] = now
        logger.warning(
            "grpc call refused",
            extra={"api": self._api, "reason": refusal.reason, "peer": context.peer()[:64]},
        )


Admit = Callable[[grpc.aio.ServicerContext[Any, Any]], Awaitable[None]]


def wrap_handler(handler: Handler, before: Admit) -> Handler:
    """`handler` with `before(context)` awaited first, in the call's own task (so a
    context variable it sets is seen by the handler), whatever the handler's kind."""
    inner: Any
    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: Any) -> Any:
            await before(context)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        inner = handler.stream_unary

        async def stream_unary(requests: Any, context: Any) -> Any:
            await before(context)
            return await inner(requests, context)

        return grpc.stream_unary_rpc_method_handler(
            stream_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, before),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    assert handler.stream_stream is not None
    return grpc.stream_stream_rpc_method_handler(
        _streaming(handler.stream_stream, before),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _streaming(inner: Any, before: Admit) -> Any:
    """A streaming handler is an async generator or a coroutine writing to its context;
    the wrapper must be the same kind for grpc.aio to drive it."""
    if inspect.isasyncgenfunction(inner):

        async def generator(request: Any, context: Any) -> AsyncIterator[Any]:
            await before(context)
            async for response in inner(request, context):
                yield response

        return generator

    async def coroutine(request: Any, context: Any) -> Any:
        await before(context)
        return await inner(request, context)

    return coroutine
