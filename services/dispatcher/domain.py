"""The team API's logic: submit audio, read, cancel and follow jobs (the servicer only
maps protos and errors). Jobs from gateways come through the link (link_servicer.py)."""

from __future__ import annotations

import uuid

from lingua.common.v1 import job_pb2
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, link_to
from services.dispatcher.errors import JobNotFound, NoNode
from services.dispatcher.intake import JobIntake
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.store import RedisJobStore

tracer = get_tracer(__name__)


class Dispatcher:
    def __init__(self, store: RedisJobStore, intake: JobIntake, lifecycle: JobLifecycle) -> None:
        self._store = store
        self._intake = intake
        self._lifecycle = lifecycle

    async def submit_job(
        self,
        request_id: str,
        tenant_id: str,
        spec: job_pb2.JobSpec,
        *,
        fail_fast: bool,
    ) -> tuple[JobRecord, bool]:
        """A job without a session: its result is read with GetJob / WatchJob."""
        spec.tenant_id = tenant_id
        request_id = request_id or f"api:{uuid.uuid4().hex}"
        admission = await self._intake.new_job(request_id, spec, "", may_wait=not fail_fast)
        if admission.state is JobState.FAILED and admission.created:
            record = await self.get_job(admission.job_id)
            raise NoNode(record.error_message or "no node available", record.error_code or None)
        return await self.get_job(admission.job_id), admission.created

    async def cancel_job(self, job_id: str, reason: str) -> JobRecord:
        record = await self.get_job(job_id)
        reason = reason or "cancelled"
        # In the caller's trace, linked to the job's: both sides find the cancel.
        with tracer.start_as_current_span(
            names.DISPATCHER_CANCEL,
            attributes={names.JOB_ID: job_id, names.REASON: reason},
            links=link_to(record.trace_parent),
        ):
            await self._lifecycle.end(
                job_id,
                (record.src_lang, record.tgt_lang),
                JobState.CANCELLED,
                "JOB_CANCELLED",
                reason,
            )
        return await self.get_job(job_id)

    async def get_job(self, job_id: str) -> JobRecord:
        record = await self._store.get(job_id)
        if record is None:
            raise JobNotFound(f"no job {job_id}")
        return record
