"""OpenTelemetry setup for one service process, driven by the standard OTEL_* variables.

Tracing is on when an exporter is configured (OTEL_TRACES_EXPORTER, or an OTLP endpoint
in OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT) and OTEL_SDK_DISABLED is not "true". When off,
no SDK is installed: spans are the API's no-ops, gRPC calls carry no interceptors and
Redis is not instrumented, so the hot path pays next to nothing (bench: tracing scenario).
OTEL_SERVICE_NAME and OTEL_TRACES_SAMPLER[_ARG] are read here; the SDK reads the rest
of the standard variables itself (OTLP endpoint, headers, OTEL_BSP_*,
OTEL_RESOURCE_ATTRIBUTES).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import Sampler

logger = logging.getLogger(__name__)

EXPORTERS = ("otlp", "console", "none")
# Long-lived streams would make spans that never end; health probes are noise; node
# heartbeats (thousands a second, each alike) would drown the job traces.
UNTRACED_METHODS = frozenset(
    {
        "WatchIndex",
        "WatchNodes",
        "WatchJob",
        "Check",
        "Watch",
        "Heartbeat",
        "StreamHeartbeats",
        "Link",
    }
)


@dataclass(frozen=True)
class TracingSettings:
    exporter: str = "none"
    # OTEL_SERVICE_NAME; the service's own name when unset.
    service_name: str = ""
    sampler: str = "parentbased_always_on"
    sampler_arg: str = ""

    @property
    def enabled(self) -> bool:
        return self.exporter != "none"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TracingSettings:
        if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return cls(exporter="none")
        exporter = env.get("OTEL_TRACES_EXPORTER", "").split(",")[0].strip().lower()
        if not exporter:
            endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
                "OTEL_EXPORTER_OTLP_ENDPOINT"
            )
            exporter = "otlp" if endpoint else "none"
        if exporter not in EXPORTERS:
            raise ValueError(f"OTEL_TRACES_EXPORTER={exporter!r}: expected one of {EXPORTERS}")
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"
        )
        if exporter == "otlp" and protocol != "grpc":
            raise ValueError(f"OTLP protocol {protocol!r}: only grpc is built in")
        sampler = env.get("OTEL_TRACES_SAMPLER", "") or cls.sampler
        sampler_of(sampler, env.get("OTEL_TRACES_SAMPLER_ARG", ""))  # refuse a bad one at start
        return cls(
            exporter=exporter,
            service_name=env.get("OTEL_SERVICE_NAME", ""),
            sampler=sampler,
            sampler_arg=env.get("OTEL_TRACES_SAMPLER_ARG", ""),
        )


class ChildSpansOnly(trace.TracerProvider):
    """Tracers that record a span only as a step of some traced work, never as a root.

    For the Redis instrumentation: background loops (sweeps, feeds, blocking reads) run
    commands with no span around them, and as roots those would flood Jaeger with
    one-span traces (and cost CPU on every poll).
    """

    def __init__(self, provider: trace.TracerProvider) -> None:
        self._provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ChildOnlyTracer(self._provider.get_tracer(*args, **kwargs))


class _ChildOnlyTracer(trace.Tracer):
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> trace.Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        if not trace.get_current_span(context).get_span_context().is_valid:
            yield trace.INVALID_SPAN
            return
        with self._tracer.start_as_current_span(name, context, *args, **kwargs) as span:
            yield span


_installed = False


def tracing_active() -> bool:
    """Whether this process installed an SDK (gRPC instrumentation follows it)."""
    return _installed


class Tracing:
    """The process's tracer provider: installed before the app is built, flushed last."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self._provider = provider

    @classmethod
    def install(
        cls,
        settings: TracingSettings,
        service: str,
        processors: Sequence[SpanProcessor] = (),
    ) -> Tracing:
        if not settings.enabled and not processors:
            return cls(None)
        resource = Resource.create(
            {
                SERVICE_NAME: settings.service_name or f"lingua-{service}",
                SERVICE_INSTANCE_ID: f"{os.uname().nodename}:{os.getpid()}",
            }
        )
        provider = TracerProvider(
            resource=resource,
            sampler=sampler_of(settings.sampler, settings.sampler_arg),
        )
        for processor in processors or [_exporting_processor(settings)]:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        global _installed  # noqa: PLW0603 - one provider per process, set once at start
        _installed = True
        _instrument_redis(provider)
        logger.info("tracing on", extra={"exporter": settings.exporter})
        return cls(provider)

    def shutdown(self) -> None:
        """Flush what is buffered (bounded by the processor's export timeout)."""
        if self._provider is not None:
            self._provider.shutdown()


def sampler_of(name: str, arg: str) -> Sampler:
    """OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, as the specification names them."""
    ratio = float(arg) if arg else 1.0
    known: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(sampling.TraceIdRatioBased(ratio)),
    }
    if name not in known:
        raise ValueError(f"OTEL_TRACES_SAMPLER={name!r}: expected one of {sorted(known)}")
    return known[name]


def _exporting_processor(settings: TracingSettings) -> SpanProcessor:
    if settings.exporter == "console":
        return BatchSpanProcessor(ConsoleSpanExporter())
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return BatchSpanProcessor(OTLPSpanExporter())


def _instrument_redis(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.redis import RedisInstrumentor  # noqa: PLC0415

    instrumentor = RedisInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=ChildSpansOnly(provider))


def _traced(details: Any) -> bool:
    method = getattr(details, "method", "") or ""
    if isinstance(method, bytes):  # grpc.aio hands clients the method as bytes
        method = method.decode()
    return str(method).rsplit("/", 1)[-1] not in UNTRACED_METHODS


def server_interceptors() -> list[grpc.aio.ServerInterceptor[Any, Any]]:
    """W3C context in from gRPC metadata, one server span per call; none when off."""
    if not tracing_active():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor  # noqa: PLC0415

    return [aio_server_interceptor(filter_=_traced)]


def client_interceptors() -> list[grpc.aio.ClientInterceptor]:
    """W3C context out in gRPC metadata, one client span per call; none when off."""
    if not tracing_active():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors  # noqa: PLC0415

    interceptors: list[grpc.aio.ClientInterceptor] = aio_client_interceptors(filter_=_traced)
    return interceptors
