"""What nodes report about their jobs (through their gateway's link), and which
transition each report makes: progress confirms the attempt, a result finishes the job,
an assignment that never reached its node gives the attempt up and places it again."""

from __future__ import annotations

from lingua.common.v1 import job_pb2
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import context_of, get_tracer
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.retries import Retries
from services.dispatcher.store import RedisJobStore

tracer = get_tracer(__name__)

UNDELIVERED = "NODE_UNAVAILABLE"


class NodeReports:
    def __init__(self, lifecycle: JobLifecycle, retries: Retries, store: RedisJobStore) -> None:
        self._lifecycle = lifecycle
        self._retries = retries
        self._store = store

    async def progress(
        self,
        job_id: str,
        node_id: str,
        attempt: int,
        kind: str,
        text: str = "",
        final: bool = False,
        parent: str = "",
    ) -> bool:
        """accepted | started | partial."""
        with tracer.start_as_current_span(
            names.DISPATCHER_EVENT,
            context=context_of(parent),
            attributes={
                names.JOB_ID: job_id,
                names.NODE_ID: node_id,
                names.JOB_ATTEMPT: attempt,
                names.MESSAGE_TYPE: kind,
            },
        ) as span:
            confirmed = await self._lifecycle.confirm(job_id, node_id, attempt, kind, text, final)
            span.set_attribute(names.ACCEPTED, confirmed)
            return confirmed

    async def result(
        self, job_id: str, node_id: str, attempt: int, result: job_pb2.JobResult, parent: str = ""
    ) -> bool:
        with tracer.start_as_current_span(
            names.DISPATCHER_COMPLETE,
            context=context_of(parent),
            attributes={names.JOB_ID: job_id, names.NODE_ID: node_id, names.JOB_ATTEMPT: attempt},
        ) as span:
            accepted = await self._lifecycle.finish(job_id, node_id, attempt, result)
            span.set_attribute(names.ACCEPTED, accepted)
            return accepted

    async def undeliverable(self, job_id: str, node_id: str, attempt: int) -> None:
        """The node's gateway had no socket of that node (and epoch) for the assignment:
        not the job's fault. The attempt's number is given back, and another node tried."""
        record = await self._store.get(job_id)
        if record is None or record.node_id != node_id or record.attempt != attempt:
            return
        abandoned = await self._lifecycle.abandon(
            record, UNDELIVERED, only_if_due=False, counts=False
        )
        if abandoned is not None and abandoned.retry:
            await self._retries.retry(record, abandoned, UNDELIVERED)
