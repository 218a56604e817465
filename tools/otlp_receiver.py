"""An OTLP/gRPC trace receiver in this process: what the services export, kept in memory.

For tests and the tracing benchmark: point the services' OTEL_EXPORTER_OTLP_ENDPOINT at
`endpoint` and read back the spans they sent. Runs on its own threads (the sync gRPC
server), so it keeps receiving while the caller blocks or runs its own event loop.
Bounded: beyond `max_spans` spans are counted, not kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as pb_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

DEFAULT_MAX_SPANS = 200_000


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    # (trace id, span id) of each link
    links: tuple[tuple[str, str], ...] = ()


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    return (
        getattr(value, which)
        if which in ("string_value", "bool_value", "int_value", "double_value")
        else None
    )


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def _service_of(attributes: list[KeyValue]) -> str:
    return str(_attributes(attributes).get("service.name", ""))


class _TraceService(pb_grpc.TraceServiceServicer):
    def __init__(self, sink: OtlpReceiver) -> None:
        self._sink = sink

    def Export(
        self, request: pb.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> pb.ExportTraceServiceResponse:
        if not self._sink.keep:
            self._sink.count(
                sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
            )
            return pb.ExportTraceServiceResponse()
        spans: list[ReceivedSpan] = []
        for resource_spans in request.resource_spans:
            service = _service_of(list(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        ReceivedSpan(
                            service=service,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            attributes=_attributes(span.attributes),
                            links=tuple((ln.trace_id.hex(), ln.span_id.hex()) for ln in span.links),
                        )
                    )
        self._sink.add(spans)
        return pb.ExportTraceServiceResponse()


class OtlpReceiver:
    def __init__(self, max_spans: int = DEFAULT_MAX_SPANS, *, keep: bool = True) -> None:
        """`keep=False` only counts spans (a benchmark's receiver should cost little)."""
        self._max_spans = max_spans
        self.keep = keep
        self._lock = threading.Lock()
        self._spans: list[ReceivedSpan] = []
        self.received = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment for a service exporting here, quickly (tests wait for spans)."""
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }

    def start(self) -> OtlpReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=1).wait()

    def add(self, spans: list[ReceivedSpan]) -> None:
        with self._lock:
            self.received += len(spans)
            room = self._max_spans - len(self._spans)
            self._spans.extend(spans[: max(room, 0)])

    def count(self, spans: int) -> None:
        with self._lock:
            self.received += spans

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.received = 0

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.spans() if s.trace_id == trace_id]

    def wait_for(
        self, predicate: Callable[[list[ReceivedSpan]], bool], timeout_s: float = 10.0
    ) -> list[ReceivedSpan]:
        """Poll (blocking) until `predicate(spans)` holds; the spans then, or AssertionError."""
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"spans never matched; got {len(spans)}")
            time.sleep(0.05)
