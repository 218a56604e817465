"""Tracing setup and helpers, on a private tracer provider (the global one stays unset)."""

from __future__ import annotations

import logging

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lingua_common.logs import JsonFormatter
from lingua_common.telemetry.spans import (
    context_of,
    continued,
    current_trace_id,
    link_to,
    traceparent,
    wire_trace_id,
)
from lingua_common.telemetry.tracing import ChildSpansOnly, TracingSettings, sampler_of

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def recorded() -> tuple[trace.Tracer, InMemorySpanExporter, TracerProvider]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter, provider


@pytest.mark.parametrize(
    ("env", "exporter"),
    [
        ({}, "none"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}, "none"),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, "none"),
    ],
)
def test_tracing_is_on_only_with_an_exporter(env: dict[str, str], exporter: str) -> None:
    settings = TracingSettings.from_env(env)
    assert settings.exporter == exporter
    assert settings.enabled is (exporter != "none")


def test_unknown_exporter_or_sampler_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        TracingSettings.from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match="only grpc"):
        TracingSettings.from_env(
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        )
    with pytest.raises(ValueError, match="OTEL_TRACES_SAMPLER"):
        TracingSettings.from_env({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "often"})


def test_samplers_follow_the_specification_names() -> None:
    assert "0.25" in sampler_of("parentbased_traceidratio", "0.25").get_description()
    assert sampler_of("always_off", "").get_description() == "AlwaysOffSampler"


def test_untraced_work_still_gets_a_wire_trace_id() -> None:
    assert current_trace_id() == ""
    first, second = wire_trace_id(), wire_trace_id()
    assert len(first) == 32 and first != second


def test_a_stored_traceparent_continues_its_trace(recorded) -> None:  # type: ignore[no-untyped-def]
    tracer, exporter, _ = recorded
    with tracer.start_as_current_span("create"):
        stored = traceparent()
        created_trace = current_trace_id()
    assert stored.startswith("00-" + created_trace)
    with continued(tracer, "timeout", stored):
        assert current_trace_id() == created_trace
    create, timeout = exporter.get_finished_spans()
    assert timeout.parent is not None
    assert timeout.parent.span_id == create.context.span_id


def test_garbage_traceparents_are_ignored(recorded) -> None:  # type: ignore[no-untyped-def]
    tracer, exporter, _ = recorded
    assert context_of("") is None
    assert context_of("00-not-a-trace") is None
    assert link_to("garbage") == []
    with continued(tracer, "orphan", "00-zz"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.parent is None  # a root of its own, still traced


def test_links_point_at_the_stored_span() -> None:
    (link,) = link_to(TRACEPARENT)
    assert trace.format_trace_id(link.context.trace_id) == "0af7651916cd43dd8448eb211c80319c"
    assert trace.format_span_id(link.context.span_id) == "b7ad6b7169203331"


def test_redis_spans_are_recorded_only_under_traced_work(recorded) -> None:  # type: ignore[no-untyped-def]
    tracer, exporter, provider = recorded
    redis_tracer = ChildSpansOnly(provider).get_tracer("redis")
    with redis_tracer.start_as_current_span("EVALSHA") as span:
        assert not span.get_span_context().is_valid  # a background poll: no trace at all
    assert redis_tracer.start_span("GET") is trace.INVALID_SPAN
    with (
        tracer.start_as_current_span("dispatcher.job.reserve"),
        redis_tracer.start_as_current_span("EVALSHA"),
    ):
        pass
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["EVALSHA", "dispatcher.job.reserve"]


def test_json_logs_carry_the_current_trace(recorded) -> None:  # type: ignore[no-untyped-def]
    tracer, _, _ = recorded
    formatter = JsonFormatter("dispatcher")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "job created", None, None)
    assert "trace_id" not in orjson.loads(formatter.format(record))
    with tracer.start_as_current_span("create") as span:
        entry = orjson.loads(formatter.format(record))
        context = span.get_span_context()
    assert entry["trace_id"] == trace.format_trace_id(context.trace_id)
    assert entry["span_id"] == trace.format_span_id(context.span_id)
