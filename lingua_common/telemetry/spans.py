"""Span helpers: W3C context kept in records, the wire trace id, span starts.

A job's trace outlives any one call: the dispatcher keeps the W3C `traceparent` of the
job's creation in the job record, and later work on the job (a result, a timeout, a
failover, a pending job finally placed) continues that trace from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from lingua_common.ids import new_trace_id
from lingua_common.telemetry.tracing import tracing_active

_W3C = TraceContextTextMapPropagator()
Attributes = Mapping[str, str | int | float | bool]
_UNTRACED: AbstractContextManager[Span] = nullcontext(trace.INVALID_SPAN)


class LazyTracer(trace.Tracer):
    """A module's tracer: the SDK's once tracing is installed, and until then (or when
    it never is) a shared no-op context, cheaper per span than the API's proxy."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tracer: trace.Tracer | None = None

    def _sdk(self) -> trace.Tracer | None:
        if self._tracer is None and tracing_active():
            self._tracer = trace.get_tracer(self._name)
        return self._tracer

    def start_span(self, name: str, *args: Any, **kwargs: Any) -> Span:
        tracer = self._sdk()
        return tracer.start_span(name, *args, **kwargs) if tracer else trace.INVALID_SPAN

    def start_as_current_span(  # type: ignore[override]
        self, name: str, *args: Any, **kwargs: Any
    ) -> AbstractContextManager[Span]:
        tracer = self._sdk()
        if tracer is None:
            return _UNTRACED
        return tracer.start_as_current_span(name, *args, **kwargs)


def get_tracer(name: str) -> trace.Tracer:
    return LazyTracer(name)


def traceparent() -> str:
    """The current span as a W3C traceparent ("" when nothing is traced)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent", "")


def context_of(parent: str) -> otel_context.Context | None:
    """A context continuing a stored traceparent (None for "" or garbage)."""
    if not parent:
        return None
    ctx = _W3C.extract({"traceparent": parent})
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def link_to(parent: str) -> list[Link]:
    ctx = context_of(parent)
    if ctx is None:
        return []
    return [Link(trace.get_current_span(ctx).get_span_context())]


def current_trace_id() -> str:
    """The current trace's id as 32 hex digits, "" when there is none."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else ""


def wire_trace_id() -> str:
    """The id that goes on the wire: the trace's own, or a fresh one when untraced."""
    return current_trace_id() or new_trace_id()


@contextmanager
def continued(
    tracer: trace.Tracer,
    name: str,
    parent: str,
    attributes: Attributes | None = None,
    links: list[Link] | None = None,
) -> Iterator[Span]:
    """A span continuing the trace in `parent` (a stored traceparent); under the current
    context when that is empty or unreadable, so the work is still traced."""
    ctx = context_of(parent)
    with tracer.start_as_current_span(
        name, context=ctx, attributes=attributes, links=links, kind=SpanKind.INTERNAL
    ) as span:
        yield span


def set_attributes(span: Span, values: Mapping[str, Any]) -> None:
    """Set only the values that are present (OTel rejects None)."""
    for key, value in values.items():
        if value is not None and value != "":
            span.set_attribute(key, value)
