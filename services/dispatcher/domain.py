"""The team API's logic: submit audio, read, cancel and follow jobs, each within the
caller's scope (tenancy.py: a team sees only its tenant's jobs); the servicer only maps
protos and errors. Jobs from gateways come through the link (link_servicer.py)."""

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
from services.dispatcher.tenancy import Scope, team_request_key

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
        scope: Scope,
        *,
        fail_fast: bool,
    ) -> tuple[JobRecord, bool]:
        """A job without a session: its result is read with GetJob / WatchJob. Its
        request id is namespaced by its tenant (tenancy.py)."""
        tenant = scope.tenant_of_new_job(tenant_id)
        spec.tenant_id = tenant
        key = team_request_key(tenant, request_id or uuid.uuid4().hex)
        admission = await self._intake.new_job(key, spec, "", may_wait=not fail_fast)
        if admission.state is JobState.FAILED and admission.created:
            record = await self.get_job(admission.job_id, scope)
            raise NoNode(record.error_message or "no node available", record.error_code or None)
        return await self.get_job(admission.job_id, scope), admission.created

    async def cancel_job(self, job_id: str, reason: str, scope: Scope) -> JobRecord:
        record = await self.get_job(job_id, scope)
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
        return await self.get_job(job_id, scope)

    async def get_job(self, job_id: str, scope: Scope) -> JobRecord:
        """The job, if the caller may see it; another tenant's job is "no job" alike."""
        record = await self._store.get(job_id)
        if record is None or not scope.sees(record):
            raise JobNotFound(f"no job {job_id}")
        return record
