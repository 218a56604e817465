"""New jobs, from a gateway's link or the team API: created once per request id, on a
node with a free slot at once when there is one, else waiting (bounded) or failed.

The slot comes first and the job is created already placed on it, in one script
(job_create): two round trips for a job that finds room. A repeated request finds the
job it created before, and gives back the slot it reserved meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lingua.common.v1 import job_pb2
from lingua_common.clock import Clock
from lingua_common.ids import job_id_for
from lingua_common.limits import LimitError, check_message
from lingua_common.routes import Route, RouteError, route_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import (
    context_of,
    get_tracer,
    set_attributes,
    traceparent,
    wire_trace_id,
)
from services.dispatcher.errors import DependencyDown, InvalidJob, NoCapacity
from services.dispatcher.lifecycle import JobLifecycle, Seat
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import JobRef, JobState
from services.dispatcher.placement import Outcome, Placer, Ticket
from services.dispatcher.retries import Retries, no_node_message
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import NewJobRecord

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


@dataclass(frozen=True)
class Admission:
    """Where a new job stands once the intake is done with it."""

    job_id: str
    trace_id: str
    state: JobState
    # False when the request id already had a job (nothing was placed again).
    created: bool
    node_id: str = ""
    attempt: int = 0


def default_request_id(spec: job_pb2.JobSpec) -> str:
    return f"{spec.session_id}:{spec.utterance_index}:{spec.tgt_lang}"


def check_spec(spec: job_pb2.JobSpec) -> Route:
    """The job's route (a directed pair, or a pair both ways for a two-way job), once
    every field is within the table of limits."""
    try:
        check_message(spec)
        route = route_of(spec)
    except (RouteError, LimitError) as error:
        raise InvalidJob(str(error)) from None
    if not spec.audio:
        raise InvalidJob("audio is empty")
    return route


class JobIntake:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        placer: Placer,
        retries: Retries,
        clock: Clock,
        settings: DispatcherSettings,
        metrics: DispatcherMetrics,
    ) -> None:
        self._lifecycle = lifecycle
        self._placer = placer
        self._retries = retries
        self._clock = clock
        self._settings = settings
        self._metrics = metrics

    async def new_job(
        self,
        request_id: str,
        spec: job_pb2.JobSpec,
        gateway_id: str,
        *,
        parent: str = "",
        trace_id: str = "",
        may_wait: bool = True,
    ) -> Admission:
        """Create and place a job. `gateway_id` holds the session's socket ("" for the
        team API); `parent` is the traceparent the job's trace continues, `trace_id` the
        job's trace id when its gateway chose it (untraced)."""
        route = check_spec(spec)
        request_id = request_id or default_request_id(spec)
        job_id = job_id_for(request_id)
        with tracer.start_as_current_span(
            names.DISPATCHER_CREATE,
            context=context_of(parent),
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
            admission = await self._admit(
                job_id, request_id, spec, route, gateway_id, trace_id or wire_trace_id(), may_wait
            )
            span.set_attribute(names.JOB_CREATED, admission.created)
            span.set_attribute(names.JOB_STATE, admission.state.value)
            set_attributes(span, {names.NODE_ID: admission.node_id})
            return admission

    async def _admit(
        self,
        job_id: str,
        request_id: str,
        spec: job_pb2.JobSpec,
        route: Route,
        gateway_id: str,
        trace_id: str,
        may_wait: bool,
    ) -> Admission:
        ref = JobRef(job_id, spec.session_id, spec.utterance_index, trace_id, gateway_id)
        ticket = Ticket(ref, spec, created_ms=self._clock.now_ms())
        down: DependencyDown | None = None
        try:
            found: Seat | Outcome = await self._placer.seat(ticket, 1)
        except DependencyDown as error:
            found, down = Outcome.NO_NODE, error
        seat = found if isinstance(found, Seat) else None
        record = NewJobRecord(
            job_id=job_id,
            request_id=request_id,
            spec=spec.SerializeToString(),
            trace_id=ref.trace_id,
            session_id=spec.session_id,
            utterance_index=spec.utterance_index,
            # The route's key: where the job waits, and what its errors name.
            src_lang=route.key[0],
            tgt_lang=route.key[1],
            tenant_id=spec.tenant_id,
            gateway_id=gateway_id,
            max_attempts=self._settings.max_attempts,
            trace_parent=traceparent(),
        )
        if seat is not None:
            with tracer.start_as_current_span(
                names.DISPATCHER_DELIVER,
                attributes={names.NODE_ID: seat.node_id, names.GATEWAY_ID: seat.owner.gateway_id},
            ):
                created = await self._lifecycle.create(record, spec, seat, traceparent())
        else:
            created = await self._lifecycle.create(record, spec, None, "")
        if not created.created:
            # The same request again: the job as it stands; it is never placed twice.
            return Admission(
                job_id, created.trace_id, created.state, False, created.node_id, created.attempt
            )
        if seat is not None:
            self._metrics.placed(Outcome.DISPATCHED.value)
            await self._placer.placed(ticket, seat)
            return self._logged(ref, JobState.DISPATCHED, seat.node_id, 1)
        assert isinstance(found, Outcome)
        pair = route.key
        if down is not None:
            # Nobody can say which nodes serve the pair: a clear answer, not a guess.
            await self._lifecycle.end(job_id, pair, JobState.FAILED, down.code, down.message)
            return self._logged(ref, JobState.FAILED)
        if not may_wait:
            await self._lifecycle.end(
                job_id, pair, JobState.FAILED, "NO_AVAILABLE_NODE", no_node_message(*pair)
            )
            if found is Outcome.NO_CAPACITY:
                raise NoCapacity(f"no free slot for {route.label} now")
            return self._logged(ref, JobState.FAILED)
        settled = await self._retries.settle(
            job_id, pair, found, wait_for_a_node_ms=self._settings.no_node_wait_ms
        )
        state = JobState.PENDING if settled is Outcome.NO_CAPACITY else JobState.FAILED
        return self._logged(ref, state)

    def _logged(
        self, ref: JobRef, state: JobState, node_id: str = "", attempt: int = 0
    ) -> Admission:
        logger.info(
            "job created",
            extra={
                "job_id": ref.job_id,
                "trace_id": ref.trace_id,
                "state": state.value,
                "node_id": node_id,
                "session_id": ref.session_id,
                "utterance_index": ref.utterance_index,
            },
        )
        return Admission(ref.job_id, ref.trace_id, state, True, node_id, attempt)
