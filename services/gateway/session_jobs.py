"""Turning a session's accepted utterances into jobs at the dispatchers.

Each accepted utterance is one NewJob on the job path's links (dispatcher_links.py):
idempotent, since the job id derives from the session, index and target, so a message
sent twice (a link broke before it was acknowledged) makes one job. The job's id and
trace id are known here before anything comes back; DISPATCHED, the answer or an error
follow as deliveries for the session. An utterance in another language pair than the one
before first updates the session state (the Lua script resets the preferred pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from lingua.common.v1 import job_pb2
from lingua_common.ids import job_id_for
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, traceparent, wire_trace_id
from services.gateway.context import GatewayContext
from services.gateway.session_answers import Answers, Emit

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)

QUEUE_FULL = "the scheduler is not taking utterances now (its queue is full); retry"


def request_id_of(spec: job_pb2.JobSpec) -> str:
    return f"{spec.session_id}:{spec.utterance_index}:{spec.tgt_lang}"


def cut_reason(spec: job_pb2.JobSpec) -> str:
    if spec.is_manual_cut:
        return "manual"
    if spec.is_timeout_triggered:
        return "pause"
    if spec.is_max_duration_triggered:
        return "max_duration"
    return "utterance"


# Fills in what a job carries from session state before it goes (its group hint).
Prepare = Callable[[job_pb2.JobSpec], None]


class JobSubmitter:
    def __init__(
        self, ctx: GatewayContext, answers: Answers, emit: Emit, prepare: Prepare | None = None
    ) -> None:
        self._ctx = ctx
        self._answers = answers
        self._emit = emit
        self._prepare = prepare
        self._tasks: set[asyncio.Task[None]] = set()
        # Unanswered utterances' jobs (with their trace ids), oldest first, bounded in
        # bytes: should Redis lose its data, they are created again from here.
        self._kept: OrderedDict[int, tuple[job_pb2.JobSpec, str]] = OrderedDict()
        self._kept_bytes = 0

    def submit(self, spec: job_pb2.JobSpec, pair_changed: bool) -> None:
        if not pair_changed:
            self._send(spec)
            return
        task = asyncio.create_task(self._change_pair_then_send(spec))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _change_pair_then_send(self, spec: job_pb2.JobSpec) -> None:
        await self._change_pair(spec)
        self._send(spec)

    def _send(self, spec: job_pb2.JobSpec) -> None:
        if self._prepare is not None:
            self._prepare(spec)
        # The root of the job's trace: everything the job causes, anywhere, hangs below.
        with tracer.start_as_current_span(
            names.GATEWAY_UTTERANCE,
            context=otel_context.Context(),
            kind=SpanKind.SERVER,
            attributes={
                names.SESSION_ID: spec.session_id,
                names.UTTERANCE_INDEX: spec.utterance_index,
                names.SRC_LANG: spec.src_lang,
                names.TGT_LANG: spec.tgt_lang,
                names.UTTERANCE_CUT: cut_reason(spec),
                names.GATEWAY_ID: self._ctx.gateway_id,
                names.CLIENT_TRACE_ID: spec.client_trace_id,
            },
        ) as span:
            request_id = request_id_of(spec)
            job_id, trace_id = job_id_for(request_id), wire_trace_id()
            span.set_attribute(names.JOB_ID, job_id)
            self._answers.note_job(spec.utterance_index, job_id, trace_id)
            self._keep(spec, trace_id)
            if not self._ctx.links.new_job(request_id, spec, trace_id, traceparent()):
                self._answers.error(
                    spec.utterance_index,
                    job_id,
                    trace_id,
                    "SCHEDULER_DEPENDENCY_DOWN",
                    QUEUE_FULL,
                    self._ctx.clock.now_ms(),
                )

    def resend_unanswered(self) -> int:
        """Redis lost its data: every utterance still unanswered gets its job again
        (the same request id, so the same job id: idempotent if it survived after all).
        Returns how many were sent."""
        self._let_go_answered()
        sent = 0
        for spec, trace_id in self._kept.values():
            if self._ctx.links.new_job(request_id_of(spec), spec, trace_id, ""):
                sent += 1
        return sent

    def _keep(self, spec: job_pb2.JobSpec, trace_id: str) -> None:
        self._let_go_answered()
        self._kept[spec.utterance_index] = (spec, trace_id)
        self._kept_bytes += len(spec.audio)
        limit = self._ctx.settings.limits.session_keep_bytes
        while self._kept_bytes > limit and len(self._kept) > 1:
            _, (oldest, _) = self._kept.popitem(last=False)
            self._kept_bytes -= len(oldest.audio)

    def _let_go_answered(self) -> None:
        for index in [i for i in self._kept if not self._answers.unanswered(i)]:
            spec, _ = self._kept.pop(index)
            self._kept_bytes -= len(spec.audio)

    async def _change_pair(self, spec: job_pb2.JobSpec) -> None:
        try:
            await self._ctx.store.open_session(
                spec.session_id,
                spec.src_lang,
                spec.tgt_lang,
                spec.tenant_id,
                self._ctx.clock.now_ms(),
                self._ctx.settings.session_ttl_ms,
            )
        except Exception:
            # The pair in the session state is a hint for routing; the job still goes out.
            logger.exception("session pair not updated", extra={"session_id": spec.session_id})
