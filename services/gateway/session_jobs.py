"""Turning a session's accepted utterances into jobs at the dispatcher.

Each accepted utterance is one CreateJob call (idempotent: the job id derives from the
session, index and target). Its reply either fails the utterance at once (an `error`
in order), or announces `ui_event DISPATCHED`; the answer itself comes later through
GatewayService.DeliverToSession. An utterance in another language pair than the one
before first updates the session state (the Lua script resets the preferred pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import grpc
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua_common.errors import wire_code_of
from lingua_common.metadata import REPLY_TO_METADATA_KEY
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, set_attributes
from services.gateway.context import GatewayContext
from services.gateway.session_answers import Answers, Emit
from services.gateway.wire import out

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


def cut_reason(spec: job_pb2.JobSpec) -> str:
    if spec.is_manual_cut:
        return "manual"
    if spec.is_timeout_triggered:
        return "pause"
    if spec.is_max_duration_triggered:
        return "max_duration"
    return "utterance"


# Fills in what a job carries from session state before it is created (its group).
Prepare = Callable[[job_pb2.JobSpec], Awaitable[None]]


class JobSubmitter:
    def __init__(
        self, ctx: GatewayContext, answers: Answers, emit: Emit, prepare: Prepare | None = None
    ) -> None:
        self._ctx = ctx
        self._answers = answers
        self._emit = emit
        self._prepare = prepare
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, spec: job_pb2.JobSpec, pair_changed: bool) -> None:
        task = asyncio.create_task(self._submit(spec, pair_changed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, spec: job_pb2.JobSpec, pair_changed: bool) -> None:
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
            job_id = await self._create(spec, pair_changed)
            set_attributes(span, {names.JOB_ID: job_id})

    async def _create(self, spec: job_pb2.JobSpec, pair_changed: bool) -> str:
        index = spec.utterance_index
        if self._prepare is not None:
            await self._prepare(spec)
        if pair_changed:
            await self._change_pair(spec)
        try:
            reply = await self._ctx.dispatcher.CreateJob(
                dispatcher_pb.CreateJobRequest(spec=spec),
                metadata=((REPLY_TO_METADATA_KEY, self._ctx.gateway_id),),
                timeout=self._ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            self._answers.error(
                index,
                "",
                "",
                wire_code_of(error),
                error.details() or "job not created",
                self._ctx.clock.now_ms(),
            )
            return ""
        job = reply.job
        self._answers.note_job(index, job.job_id, job.trace_id)
        if job.state == job_pb2.JOB_STATE_FAILED:
            self._answers.error(
                index,
                job.job_id,
                job.trace_id,
                job.error.code,
                job.error.message,
                self._ctx.clock.now_ms(),
            )
        elif job.state == job_pb2.JOB_STATE_DISPATCHED and reply.created:
            self._emit(out.ui_event(spec.session_id, "DISPATCHED", index, job.job_id, job.trace_id))
        return str(job.job_id)

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
