"""gRPC DispatcherService (the team API, on the dispatcher's team port): proto <-> domain,
domain errors -> gRPC status, with the PROTOCOL.md code in trailing metadata.

Every call has been authenticated (api_auth.py) and its request checked against the
table of limits (limits.py) before it gets here; the caller's tenant scopes what it
may see (tenancy.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from lingua.common.v1 import job_pb2, node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.api_auth import current_caller
from lingua_common.errors import ERROR_CODE_METADATA_KEY
from lingua_common.grpc_app import Context
from lingua_common.interceptors import refuse_invalid
from lingua_common.limits import LimitError, require
from services.dispatcher.domain import Dispatcher
from services.dispatcher.errors import (
    InvalidJob,
    JobError,
    JobNotFound,
    NoCapacity,
    NoNode,
    ShuttingDown,
    TenantMismatch,
    WatchersFull,
)
from services.dispatcher.listing import list_jobs
from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.store import RedisJobStore
from services.dispatcher.tenancy import EVERYONE, Scope, caller_request_id
from services.dispatcher.watch_hub import WatchHub

STATE_TO_PB = {
    JobState.CREATED: job_pb2.JOB_STATE_CREATED,
    JobState.PENDING: job_pb2.JOB_STATE_PENDING,
    JobState.DISPATCHED: job_pb2.JOB_STATE_DISPATCHED,
    JobState.ACCEPTED: job_pb2.JOB_STATE_ACCEPTED,
    JobState.COMPLETED: job_pb2.JOB_STATE_COMPLETED,
    JobState.FAILED: job_pb2.JOB_STATE_FAILED,
    JobState.CANCELLED: job_pb2.JOB_STATE_CANCELLED,
}
PB_TO_STATE = {v: k for k, v in STATE_TO_PB.items()}
STATUS_OF = {
    InvalidJob: grpc.StatusCode.INVALID_ARGUMENT,
    JobNotFound: grpc.StatusCode.NOT_FOUND,
    NoCapacity: grpc.StatusCode.RESOURCE_EXHAUSTED,
    NoNode: grpc.StatusCode.UNAVAILABLE,
    WatchersFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    TenantMismatch: grpc.StatusCode.PERMISSION_DENIED,
}
WATCHED_KINDS = {
    "dispatched": pb.JOB_EVENT_KIND_DISPATCHED,
    "accepted": pb.JOB_EVENT_KIND_ACCEPTED,
    "partial": pb.JOB_EVENT_KIND_ASR_PARTIAL,
    "completed": pb.JOB_EVENT_KIND_COMPLETED,
    "failed": pb.JOB_EVENT_KIND_FAILED,
    "cancelled": pb.JOB_EVENT_KIND_CANCELLED,
}
TERMINAL_KINDS = frozenset({"completed", "failed", "cancelled"})


def caller_scope() -> Scope:
    """The jobs the current call's caller may see."""
    caller = current_caller()
    return EVERYONE if caller.operator else Scope(caller.tenant)


async def abort_for(context: Context, error: JobError) -> None:
    """A domain refusal as the caller sees it: a status, and the wire code."""
    context.set_trailing_metadata(((ERROR_CODE_METADATA_KEY, error.code),))
    await context.abort(
        STATUS_OF.get(type(error), grpc.StatusCode.FAILED_PRECONDITION), error.message
    )


class DispatcherServicer(pb_grpc.DispatcherServiceServicer):
    def __init__(self, dispatcher: Dispatcher, store: RedisJobStore, watch_hub: WatchHub) -> None:
        self._dispatcher = dispatcher
        self._store = store
        self._watch_hub = watch_hub

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: Context
    ) -> pb.SubmitJobResponse:
        try:
            _check_submit(request)
        except LimitError as error:
            await refuse_invalid(context, error)
        spec = job_pb2.JobSpec(
            src_lang=request.src_lang,
            tgt_lang=request.tgt_lang,
            audio=request.audio,
            audio_format=request.audio_format,
            sample_rate=request.sample_rate,
            pipeline=request.pipeline
            if request.HasField("pipeline")
            else job_pb2.Pipeline(use_asr=True, use_nmt=True),
            mode=request.mode,
            auto_langs=request.auto_langs,
        )
        for two_way_field in ("lang_a", "lang_b"):  # two-way mode's languages, when given
            if request.HasField(two_way_field):
                setattr(spec, two_way_field, getattr(request, two_way_field))
        try:
            record, created = await self._dispatcher.submit_job(
                request.request_id,
                request.tenant_id,
                spec,
                caller_scope(),
                fail_fast=request.fail_fast,
            )
        except JobError as error:
            await abort_for(context, error)
            raise
        return pb.SubmitJobResponse(job=record_to_pb(record), created=created)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        try:
            require("job_id", request.job_id)
            record = await self._dispatcher.get_job(request.job_id, caller_scope())
        except LimitError as error:
            await refuse_invalid(context, error)
            raise
        except JobError as error:
            await abort_for(context, error)
            raise
        return pb.GetJobResponse(job=record_to_pb(record))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        try:
            records, token = await list_jobs(
                self._store,
                caller_scope(),
                state=PB_TO_STATE.get(request.state),
                node_id=request.node_id,
                session_id=request.session_id,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        except LimitError as error:
            await refuse_invalid(context, error)
            raise
        return pb.ListJobsResponse(jobs=[record_to_pb(r) for r in records], next_page_token=token)

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: Context
    ) -> pb.CancelJobResponse:
        try:
            require("job_id", request.job_id)
            record = await self._dispatcher.cancel_job(
                request.job_id, request.reason, caller_scope()
            )
        except LimitError as error:
            await refuse_invalid(context, error)
            raise
        except JobError as error:
            await abort_for(context, error)
            raise
        return pb.CancelJobResponse(job=record_to_pb(record))

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Context
    ) -> AsyncIterator[pb.WatchJobResponse]:
        """Everything that happened to the job so far, then live, until it ends. The
        events come from the replica's watch hub (watch_hub.py), not a Redis read each."""
        try:
            require("job_id", request.job_id)
            watcher = self._watch_hub.watch(request.job_id, caller_scope().sees)
        except LimitError as error:
            await refuse_invalid(context, error)
            raise
        except JobError as error:
            await abort_for(context, error)
            raise
        try:
            while True:
                try:
                    update = await watcher.next()
                except JobError as error:
                    await abort_for(context, error)
                    raise
                for event in update.events:
                    kind = WATCHED_KINDS.get(event.kind)
                    if kind is None:
                        continue
                    yield pb.WatchJobResponse(
                        kind=kind,
                        job=record_to_pb(update.record),
                        partial_text=event.code if event.kind == "partial" else "",
                    )
                    if event.kind in TERMINAL_KINDS:
                        return
        finally:
            self._watch_hub.leave(watcher)


def _check_submit(request: pb.SubmitJobRequest) -> None:
    """What SubmitJob cannot do without (each field's bounds are checked already)."""
    for name in ("src_lang", "tgt_lang", "audio", "audio_format", "sample_rate"):
        require(name, getattr(request, name))


def record_to_pb(record: JobRecord) -> job_pb2.Job:
    job = job_pb2.Job(
        job_id=record.job_id,
        request_id=caller_request_id(record),
        state=STATE_TO_PB[record.state],
        node_id=record.node_id,
        attempt_id=record.attempt,
        trace_id=record.trace_id,
        session_id=record.session_id,
        utterance_index=record.utterance_index,
        pair=node_pb2.LanguagePair(src=record.src_lang, tgt=record.tgt_lang),
        created_at_ms=record.created_ms,
        updated_at_ms=record.updated_ms,
        tenant_id=record.tenant_id,
    )
    if record.result:
        job.result.ParseFromString(record.result)
    if record.error_code:
        job.error.CopyFrom(job_pb2.JobError(code=record.error_code, message=record.error_message))
    return job
