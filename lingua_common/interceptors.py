"""Server interceptors shared by every service."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import Counter
from redis.exceptions import ClusterError, MaxConnectionsError, RedisClusterException, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lingua_common.errors import ERROR_CODE_METADATA_KEY
from lingua_common.limits import LimitError, check_message
from lingua_common.redis_client import never_sent

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor
DEPENDENCY_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    RedisClusterException,
    ClusterError,
    TryAgainError,
)

POOL_FULL_MESSAGE = (
    "every Redis connection of this replica is in use (LINGUA_REDIS_MAX_CONNECTIONS); retry shortly"
)


class DependencyErrorInterceptor(Interceptor):
    """A store that is down is UNAVAILABLE (retryable, SCHEDULER_DEPENDENCY_DOWN on the
    wire), not UNKNOWN: callers and their retry policies can tell it from a bug.

    A full connection pool (every one of this replica's LINGUA_REDIS_MAX_CONNECTIONS
    in use) fails just the call that found it full, at once, with RESOURCE_EXHAUSTED:
    the pool never makes callers queue behind it, and the store itself is fine.
    """

    def __init__(self, errors: Counter | None = None) -> None:
        # Counts the calls answered UNAVAILABLE because of the store (lingua_redis_errors).
        self._errors = errors

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner: Any = handler.unary_unary
        method = handler_call_details.method

        async def guarded(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await inner(request, context)
            except (*DEPENDENCY_ERRORS, AttributeError, RuntimeError) as error:
                if not isinstance(error, DEPENDENCY_ERRORS) and not never_sent(error):
                    raise
                if self._errors is not None:
                    self._errors.inc()
                context.set_trailing_metadata(
                    ((ERROR_CODE_METADATA_KEY, "SCHEDULER_DEPENDENCY_DOWN"),)
                )
                if isinstance(error, MaxConnectionsError):
                    logger.warning("redis connection pool full", extra={"method": method})
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, POOL_FULL_MESSAGE)
                logger.warning(
                    "dependency unavailable", extra={"method": method, "error": repr(error)}
                )
                await context.abort(grpc.StatusCode.UNAVAILABLE, f"store unavailable: {error}")

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class RequestLimitsInterceptor(Interceptor):
    """Every request of a unary-request call against the table of limits (limits.py)
    before its handler sees it: a refusal is INVALID_ARGUMENT (INVALID_MESSAGE on the
    wire) naming the field. Streamed requests are checked message by message by their
    servicers (they read them as they come)."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or (handler.unary_unary is None and handler.unary_stream is None):
            return handler
        if handler.request_deserializer is None:  # raw bytes: no message to check
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = _checked(handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped


async def refuse_invalid(context: grpc.aio.ServicerContext[Any, Any], error: LimitError) -> None:
    """A request outside the limits, as its caller sees it."""
    context.set_trailing_metadata(((ERROR_CODE_METADATA_KEY, "INVALID_MESSAGE"),))
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))


def _checked(handler: Handler) -> Handler:
    inner: Any
    if handler.unary_unary is not None:
        inner = handler.unary_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                check_message(request)
            except LimitError as error:
                await refuse_invalid(context, error)
            return await inner(request, context)

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    inner = handler.unary_stream
    if inspect.isasyncgenfunction(inner):

        async def generator(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            try:
                check_message(request)
            except LimitError as error:
                await refuse_invalid(context, error)
            async for response in inner(request, context):
                yield response

        stream: Any = generator
    else:

        async def coroutine(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                check_message(request)
            except LimitError as error:
                await refuse_invalid(context, error)
            return await inner(request, context)

        stream = coroutine
    return grpc.unary_stream_rpc_method_handler(
        stream,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
