"""Per-method metrics of a service's unary gRPC calls: how long each took, and how each
ended (RED: rate, errors, duration), for every service alike."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

from lingua_common.interceptors import Handler, Interceptor

# Seconds: fine where the scheduler's calls live (sub-ms to tens of ms), coarse beyond.
RPC_BUCKETS_S = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class RpcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.handling = Histogram(
            "lingua_grpc_server_handling_seconds",
            "Time a unary gRPC call took in this service, from its request to its answer",
            ["grpc_service", "grpc_method"],
            buckets=RPC_BUCKETS_S,
            registry=registry,
        )
        self.handled = Counter(
            "lingua_grpc_server_handled",
            "Unary gRPC calls this service answered, by status code",
            ["grpc_service", "grpc_method", "grpc_code"],
            registry=registry,
        )


class RpcMetricsInterceptor(Interceptor):
    """Times every unary call and counts its status. Streams are not timed: they live
    as long as their peer."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics
        # One wrapped handler per method, built on its first call (not on every call).
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, full_method: str, handler: Handler) -> Handler:
        service, _, method = full_method.lstrip("/").rpartition("/")
        took = self._metrics.handling.labels(service, method)
        handled = self._metrics.handled
        by_code: dict[grpc.StatusCode, Any] = {}  # a series per code once it happens

        def count(code: grpc.StatusCode) -> None:
            child = by_code.get(code)
            if child is None:
                child = by_code[code] = handled.labels(service, method, code.name)
            child.inc()

        inner: Any = handler.unary_unary

        async def timed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            try:
                reply = await inner(request, context)
                code = context.code() or grpc.StatusCode.OK
                return reply
            except BaseException:
                # An abort leaves its code on the context; anything else is UNKNOWN.
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                took.observe(time.perf_counter() - started)
                count(code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
