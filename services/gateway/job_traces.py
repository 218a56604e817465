"""Which trace each job a node holds belongs to, so the node's answers join it.

The node's WebSocket messages carry no trace context; the job_assign that the
dispatcher delivered here did (gRPC metadata). Remembered per job while the node works
on it, bounded: the oldest entries go first, and then an answer starts its own trace.
"""

from __future__ import annotations

from collections import OrderedDict

from opentelemetry import context as otel_context
from opentelemetry import trace

MAX_REMEMBERED = 4096


class JobTraces:
    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self._capacity = capacity
        self._contexts: OrderedDict[str, otel_context.Context] = OrderedDict()

    def remember_current(self, job_id: str) -> None:
        if not trace.get_current_span().get_span_context().is_valid:
            return  # untraced: nothing worth keeping
        self._contexts[job_id] = otel_context.get_current()
        self._contexts.move_to_end(job_id)
        while len(self._contexts) > self._capacity:
            self._contexts.popitem(last=False)

    def get(self, job_id: str) -> otel_context.Context | None:
        return self._contexts.get(job_id)

    def pop(self, job_id: str) -> otel_context.Context | None:
        return self._contexts.pop(job_id, None)
