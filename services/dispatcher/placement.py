"""Where an attempt runs: candidates from the language index, the two-random-choices
order over what this replica knows of their load, and a slot reserved on the first that
has one (lifecycle.py performs every transition; this only decides).

A node is a candidate only while its gateway is linked to this replica (an assignment
for it would otherwise just wait) and that gateway takes more messages; a node
connection that failed the job before (same node, same epoch) is not tried again.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from lingua.common.v1 import job_pb2
from lingua_common.clock import Clock
from lingua_common.routes import route_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, set_attributes, traceparent
from services.dispatcher.affinity import Affinity, turn_key
from services.dispatcher.errors import DependencyDown
from services.dispatcher.lifecycle import JobLifecycle, Seat
from services.dispatcher.links import GatewayLinks
from services.dispatcher.loads import LoadEstimates
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import Connection, JobRecord, JobRef
from services.dispatcher.owners import NodeOwners
from services.dispatcher.pool_client import Candidate, CandidateFinder
from services.dispatcher.selection import Option, power_of_two_order
from services.dispatcher.settings import DispatcherSettings

tracer = get_tracer(__name__)


class Outcome(StrEnum):
    DISPATCHED = "dispatched"
    # Nodes serve the pair but none had a free slot (or was reachable): worth waiting.
    NO_CAPACITY = "no_capacity"
    # No node serves the pair at all: waiting would not help.
    NO_NODE = "no_node"
    # The job moved on meanwhile (cancelled, finished, taken by another attempt).
    SUPERSEDED = "superseded"


@dataclass
class Ticket:
    """One job as placement needs it."""

    ref: JobRef
    spec: job_pb2.JobSpec
    # Node connections that failed this job: not tried while they last.
    excluded: tuple[Connection, ...] = ()
    # When the job was created (ms, the job record's clock).
    created_ms: int = 0
    # Nodes already tried by this placement.
    tried: set[str] = field(default_factory=set)

    @property
    def job_id(self) -> str:
        return self.ref.job_id


@dataclass(frozen=True)
class Placed:
    outcome: Outcome
    attempt: int = 0
    node_id: str = ""
    pool_id: str = ""


def required_service_types(pipeline: job_pb2.Pipeline) -> list[str]:
    wanted = (
        ("asr", pipeline.use_asr),
        ("nmt", pipeline.use_nmt),
        ("tts", pipeline.use_tts),
        ("semantic", pipeline.use_semantic),
        ("tone", pipeline.use_tone),
    )
    return [name for name, used in wanted if used]


class Placer:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        finder: CandidateFinder,
        owners: NodeOwners,
        loads: LoadEstimates,
        links: GatewayLinks,
        affinity: Affinity,
        clock: Clock,
        settings: DispatcherSettings,
        rng: random.Random | None = None,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._finder = finder
        self._owners = owners
        self._loads = loads
        self._links = links
        self._affinity = affinity
        self._clock = clock
        self._settings = settings
        self._rng = rng or random.Random()
        self._metrics = metrics or DispatcherMetrics()

    async def seat(self, ticket: Ticket, attempt: int) -> Seat | Outcome:
        """A slot for this attempt on the best candidate that has one; NO_CAPACITY when
        the pair's nodes had none, NO_NODE when nobody serves the pair."""
        with tracer.start_as_current_span(
            names.DISPATCHER_PLACE,
            attributes={names.JOB_ID: ticket.job_id, names.JOB_ATTEMPT: attempt},
        ) as span:
            found = await self._seat(ticket, attempt)
            if isinstance(found, Seat):
                span.set_attribute(names.PLACE_OUTCOME, Outcome.DISPATCHED.value)
                set_attributes(span, {names.NODE_ID: found.node_id, names.POOL_ID: found.pool_id})
            else:
                self._metrics.placed(found.value)
                span.set_attribute(names.PLACE_OUTCOME, found.value)
            return found

    async def place(self, ticket: Ticket, attempt: int) -> Placed:
        """Place attempt `attempt` of an existing job (a retry, a waiting job). With the
        pool index unreachable and no copy of it here, the job waits (it was accepted)."""
        try:
            found = await self.seat(ticket, attempt)
        except DependencyDown:
            return Placed(Outcome.NO_CAPACITY, attempt)
        if not isinstance(found, Seat):
            return Placed(found, attempt)
        with tracer.start_as_current_span(
            names.DISPATCHER_DELIVER,
            attributes={names.NODE_ID: found.node_id, names.GATEWAY_ID: found.owner.gateway_id},
        ):
            assigned = await self._lifecycle.assign(
                ticket.ref, found, attempt, ticket.spec, traceparent(), ticket.created_ms
            )
        if not assigned:
            self._metrics.placed(Outcome.SUPERSEDED.value)
            return Placed(Outcome.SUPERSEDED, attempt)
        self._metrics.placed(Outcome.DISPATCHED.value)
        await self.placed(ticket, found)
        return Placed(Outcome.DISPATCHED, attempt, found.node_id, found.pool_id)

    async def placed(self, ticket: Ticket, seat: Seat) -> None:
        """A job now runs on `seat`: the session's (and the turn's) next job prefers it."""
        spec = ticket.spec
        await self._affinity.placed(
            spec.session_id, turn_key(spec.session_id, spec.turn_id), seat.pool_id, seat.node_id
        )

    async def candidates(self, ticket: Ticket, exclude: Iterable[str]) -> list[Candidate]:
        """The pool lookup: a sample of nodes serving the job's route (a directed pair,
        or a pair both ways for a two-way job), preferred pool first."""
        spec = ticket.spec
        route = route_of(spec)
        with tracer.start_as_current_span(
            names.DISPATCHER_SELECT,
            attributes={names.SRC_LANG: spec.src_lang, names.TGT_LANG: spec.tgt_lang},
        ) as span:
            preferred = await self._affinity.preferred_pool(spec.session_id)
            found = await self._finder.find(
                route.src,
                route.tgt,
                required_service_types(spec.pipeline),
                sorted(exclude),
                self._settings.candidate_sample,
                preferred,
                route.both_ways,
            )
            span.set_attribute(names.SELECT_CANDIDATES, len(found))
            set_attributes(span, {names.POOL_ID: preferred})
            return found

    async def _seat(self, ticket: Ticket, attempt: int) -> Seat | Outcome:
        seen_any = False
        exclude = self._excluded(ticket.excluded) | ticket.tried
        for _ in range(self._settings.selection_rounds):
            candidates = await self.candidates(ticket, exclude)
            if not candidates:
                break
            seen_any = True
            exclude.update(c.node_id for c in candidates)
            ticket.tried.update(c.node_id for c in candidates)
            pools = {c.node_id: c.pool_id for c in candidates}
            for option in self._order(ticket, candidates):
                owner = self._owners.reachable(option.node_id)
                if owner is None:
                    continue
                with tracer.start_as_current_span(
                    names.DISPATCHER_RESERVE, attributes={names.NODE_ID: option.node_id}
                ) as span:
                    reserved = await self._lifecycle.reserve(option.node_id, ticket.job_id, attempt)
                    span.set_attribute(names.RESERVE_OUTCOME, reserved.outcome.value)
                if reserved.outcome.holds:
                    return Seat(option.node_id, owner, pools[option.node_id], reserved.outcome)
        if seen_any or self._may_come_back(ticket.excluded):
            return Outcome.NO_CAPACITY
        return Outcome.NO_NODE

    def _may_come_back(self, failed: tuple[Connection, ...]) -> bool:
        """A node whose connection failed the job and is gone now may register again
        (under a new epoch, a candidate again): worth waiting for."""
        return any(self._owners.of(c.node_id) is None for c in failed)

    def _excluded(self, failed: tuple[Connection, ...]) -> set[str]:
        """Nodes whose connection that failed the job is still theirs (a node that
        registered again since is a candidate again)."""
        excluded = set()
        for connection in failed:
            owner = self._owners.of(connection.node_id)
            if owner is None or owner.epoch <= connection.epoch:
                excluded.add(connection.node_id)
        return excluded

    def _order(self, ticket: Ticket, candidates: list[Candidate]) -> list[Option]:
        now = self._clock.now_ms()
        local = ticket.ref.gateway_id
        options = []
        for candidate in candidates:
            owner = self._owners.reachable(candidate.node_id)
            if owner is None or not self._loads.usable(candidate.node_id, now):
                continue
            if not self._links.outbox(owner.gateway_id).has_room():
                continue
            options.append(
                Option(
                    candidate.node_id,
                    self._loads.utilisation(candidate.node_id),
                    local=bool(local) and owner.gateway_id == local,
                )
            )
        order = power_of_two_order(options, self._rng)
        # A later part of a multi-part turn goes to the node that has the earlier parts.
        spec = ticket.spec
        sticky = self._affinity.turn_node(turn_key(spec.session_id, spec.turn_id))
        if sticky:
            order.sort(key=lambda option: option.node_id != sticky)
        return order


def ticket_of(record: JobRecord) -> Ticket:
    """A stored job as placement needs it, for its next attempt."""
    return Ticket(
        record.ref,
        job_pb2.JobSpec.FromString(record.spec),
        record.excluded,
        created_ms=record.created_ms,
    )
