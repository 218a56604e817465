"""Dispatcher logic: create once, place, cancel, read (what nodes report about their
jobs is node_reports.py).

Plain code over the store, the Placer (choosing and dispatching) and Recovery
(deadlines, lost nodes, waiting jobs); the servicer only maps protos.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import grpc

from lingua.common.v1 import job_pb2
from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from lingua_common.errors import DomainError
from lingua_common.ids import job_id_for
from lingua_common.routes import Route, RouteError, route_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import (
    get_tracer,
    link_to,
    set_attributes,
    traceparent,
    wire_trace_id,
)
from services.dispatcher.model import JobEvent, JobRecord, JobState
from services.dispatcher.outcomes import SessionNotifier
from services.dispatcher.placement import Outcome, Placer, Ticket
from services.dispatcher.recovery import Recovery
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


@dataclass(frozen=True)
class Placement:
    """Where a new job stands after creation."""

    job_id: str
    trace_id: str
    state: JobState
    node_id: str = ""
    attempt: int = 0
    error_code: str = ""
    error_message: str = ""
    created: bool = True


def default_request_id(spec: job_pb2.JobSpec) -> str:
    return f"{spec.session_id}:{spec.utterance_index}:{spec.tgt_lang}"


class Dispatcher:
    def __init__(
        self,
        store: RedisJobStore,
        placer: Placer,
        recovery: Recovery,
        notifier: SessionNotifier,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._store = store
        self._placer = placer
        self._recovery = recovery
        self._notifier = notifier
        self._clock = clock
        self._settings = settings
        self._background = BackgroundTasks()

    async def create_job(
        self, request_id: str, spec: job_pb2.JobSpec, reply_to: str, *, may_wait: bool = True
    ) -> Placement:
        try:
            route = route_of(spec)  # a directed pair, or both ways for a two-way job
        except RouteError as error:
            raise DomainError(
                "INVALID_MESSAGE", str(error), grpc.StatusCode.INVALID_ARGUMENT
            ) from None
        if not spec.audio:
            raise DomainError("INVALID_MESSAGE", "audio is empty", grpc.StatusCode.INVALID_ARGUMENT)
        request_id = request_id or default_request_id(spec)
        job_id = job_id_for(request_id)
        with tracer.start_as_current_span(
            names.DISPATCHER_CREATE,
            attributes={
                names.JOB_ID: job_id,
                names.SESSION_ID: spec.session_id,
                names.UTTERANCE_INDEX: spec.utterance_index,
                names.SRC_LANG: spec.src_lang,
                names.TGT_LANG: spec.tgt_lang,
                names.TENANT_ID: spec.tenant_id,
                names.CLIENT_TRACE_ID: spec.client_trace_id,
            },
        ) as span:
            placement = await self._create(job_id, request_id, spec, reply_to, may_wait, route)
            span.set_attribute(names.JOB_CREATED, placement.created)
            span.set_attribute(names.JOB_STATE, placement.state.value)
            set_attributes(
                span,
                {names.NODE_ID: placement.node_id, names.JOB_ERROR_CODE: placement.error_code},
            )
            return placement

    async def _create(
        self,
        job_id: str,
        request_id: str,
        spec: job_pb2.JobSpec,
        reply_to: str,
        may_wait: bool,
        route: Route,
    ) -> Placement:
        ticket = Ticket(job_id, wire_trace_id(), spec, created_ms=self._clock.now_ms())
        candidates = await self._placer.candidates(ticket)
        now = self._clock.now_ms()
        # The loads are read while the job is created: one round trip instead of two. A
        # deadline is armed with it, so a creation cut short (a Redis error, a crash) before
        # placement armed its own is still picked up by the sweeper and placed.
        created, loads, _ = await asyncio.gather(
            self._store.create(
                job_id,
                now_ms=now,
                request_id=request_id,
                spec=spec.SerializeToString(),
                trace_id=ticket.trace_id,
                session_id=spec.session_id,
                utterance_index=spec.utterance_index,
                # The route's key: where the job waits, and what its errors name.
                src_lang=route.key[0],
                tgt_lang=route.key[1],
                tenant_id=spec.tenant_id,
                reply_to=reply_to,
                max_attempts=self._settings.max_attempts,
                trace_parent=traceparent(),
            ),
            self._store.node_loads([c.node_id for c in candidates]),
            self._store.schedule(job_id, now + self._settings.reservation_ttl_ms),
        )
        if not created.created:
            # The same request again: report the job as it stands, never dispatch twice.
            return await self._as_it_stands(job_id, created.trace_id, created=False)
        ticket.trace_id = created.trace_id
        ticket.armed_at_creation = True
        self._background.spawn(
            self._store.index_job(
                job_id,
                now_ms=self._clock.now_ms(),
                session_id=spec.session_id,
                utterance_index=spec.utterance_index,
            )
        )
        placed = await self._placer.place(ticket, 1, (candidates, loads))
        if placed.outcome is Outcome.SUPERSEDED:
            # The job moved on meanwhile (the sweeper retried an attempt that stalled, or it
            # was cancelled): report it as it stands, never fail it from here.
            return await self._as_it_stands(job_id, ticket.trace_id, created=True)
        if placed.outcome is Outcome.DISPATCHED:
            state = JobState.DISPATCHED
        elif may_wait and (
            placed.outcome is Outcome.NO_CAPACITY
            or (placed.outcome is Outcome.NO_NODE and self._settings.no_node_wait_ms > 0)
        ):
            record = await self._store.get(job_id)
            if record is not None:
                placed = await self._recovery.settle(
                    record, placed, spec, wait_for_a_node_ms=self._settings.no_node_wait_ms
                )
            state = JobState.PENDING if placed.outcome is Outcome.NO_CAPACITY else JobState.FAILED
        else:
            state = JobState.FAILED
        if state is JobState.FAILED:
            return await self._failed_at_creation(job_id, ticket, placed.outcome, may_wait)
        logger.info(
            "job created",
            extra={
                "job_id": job_id,
                "trace_id": ticket.trace_id,
                "state": state.value,
                "node_id": placed.node_id,
                "session_id": spec.session_id,
                "utterance_index": spec.utterance_index,
            },
        )
        return Placement(job_id, ticket.trace_id, state, placed.node_id, placed.attempt)

    async def _as_it_stands(self, job_id: str, trace_id: str, *, created: bool) -> Placement:
        record = await self._store.get(job_id)
        if record is None:
            return Placement(job_id, trace_id, JobState.CREATED, created=created)
        return Placement(
            job_id=job_id,
            trace_id=record.trace_id or trace_id,
            state=record.state,
            node_id=record.node_id,
            attempt=record.attempt,
            error_code=record.error_code,
            error_message=record.error_message,
            created=created,
        )

    async def _failed_at_creation(
        self, job_id: str, ticket: Ticket, outcome: Outcome, may_wait: bool
    ) -> Placement:
        spec = ticket.spec
        code = "NO_AVAILABLE_NODE"
        message = f"no node available for {route_of(spec).label}"
        # The caller is told in the reply; the session is not told twice.
        await self._store.finish(
            job_id,
            JobState.FAILED,
            now_ms=self._clock.now_ms(),
            error_code=code,
            error_message=message,
        )
        await self._store.unschedule(job_id)
        record = await self._store.get(job_id)
        if record is not None and record.state is JobState.FAILED:
            code, message = record.error_code or code, record.error_message or message
        logger.info(
            "job failed",
            extra={
                "job_id": job_id,
                "state": "failed",
                "code": code,
                "attempt": 0,
                "placement": outcome.value,
            },
        )
        if not may_wait and outcome is Outcome.NO_CAPACITY:
            raise DomainError(code, message, grpc.StatusCode.RESOURCE_EXHAUSTED)
        return Placement(
            job_id, ticket.trace_id, JobState.FAILED, error_code=code, error_message=message
        )

    async def submit_job(
        self,
        request_id: str,
        tenant_id: str,
        spec: job_pb2.JobSpec,
        *,
        fail_fast: bool,
    ) -> tuple[JobRecord, bool]:
        """The internal-team API: no session; results are read with GetJob / WatchJob."""
        spec.tenant_id = tenant_id
        request_id = request_id or f"api:{uuid.uuid4().hex}"
        placement = await self.create_job(request_id, spec, "", may_wait=not fail_fast)
        if placement.state is JobState.FAILED and placement.created:
            raise DomainError(
                placement.error_code, placement.error_message, grpc.StatusCode.UNAVAILABLE
            )
        return await self.get_job(placement.job_id), placement.created

    async def cancel_job(self, job_id: str, reason: str) -> JobRecord:
        record = await self.get_job(job_id)
        reason = reason or "cancelled"
        # In the caller's trace, linked to the job's: both sides find the cancel.
        with tracer.start_as_current_span(
            names.DISPATCHER_CANCEL,
            attributes={names.JOB_ID: job_id, names.REASON: reason},
            links=link_to(record.trace_parent),
        ):
            return await self._cancel(record, reason)

    async def _cancel(self, record: JobRecord, reason: str) -> JobRecord:
        job_id = record.job_id
        finished = await self._store.finish(
            job_id,
            JobState.CANCELLED,
            now_ms=self._clock.now_ms(),
            error_code="JOB_CANCELLED",
            error_message=reason,
        )
        if finished is not None:
            logger.info(
                "job cancelled", extra={"job_id": job_id, "state": "cancelled", "reason": reason}
            )
            await self._recovery.waiting.leave(record)
            if finished.node_id:
                await self._store.release(finished.node_id, job_id, finished.attempt)
                await self._recovery.cancel_on_node(finished.node_id, record, reason)
                self._background.spawn(self._recovery.waiting.slot_freed(finished.node_id))
            await self._notifier.failure(
                session_id=finished.session_id,
                reply_to=finished.reply_to,
                utterance_index=finished.utterance_index,
                job_id=job_id,
                trace_id=finished.trace_id,
                code="JOB_CANCELLED",
                message=reason,
            )
            await self._store.unschedule(job_id)  # last: see Recovery.fail
        return await self.get_job(job_id)

    async def get_job(self, job_id: str) -> JobRecord:
        record = await self._store.get(job_id)
        if record is None:
            raise DomainError("NOT_FOUND", f"no job {job_id}", grpc.StatusCode.NOT_FOUND)
        return record

    async def job_events(self, job_id: str, after_id: str, block_ms: int | None) -> list[JobEvent]:
        return await self._store.events(job_id, after_id, block_ms)
