"""Placing one attempt of a job: choose a node, reserve a slot, assign, deliver, confirm.

Two-phase reservation: the slot is reserved and the job assigned with a short due time
(a dispatcher that dies before delivering leaves a job that comes due and is retried,
its slot freed); once the node's socket has taken the job_assign, the due time becomes
the result deadline. The timeout is armed before the state it guards.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from lingua.common.v1 import job_pb2
from lingua_common.clock import Clock
from lingua_common.routes import route_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, set_attributes
from services.dispatcher.affinity import Affinity, turn_key
from services.dispatcher.exclusion import Exclusions, exclusion_entry
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import JobRecord, NodeLoad
from services.dispatcher.pool_client import Candidate
from services.dispatcher.router import GatewayRouter, assignment_request
from services.dispatcher.selection import power_of_two_order
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

tracer = get_tracer(__name__)


class CandidateFinder(Protocol):
    async def find(
        self,
        src: str,
        tgt: str,
        required: list[str],
        exclude: list[str],
        limit: int,
        preferred_pool: str = "",
        both_ways: bool = False,
    ) -> list[Candidate]: ...


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

    job_id: str
    trace_id: str
    spec: job_pb2.JobSpec
    excluded: set[str] = field(default_factory=set)
    # When the job was created (ms, the job record's clock): dispatch latency runs from it.
    created_ms: int = 0
    # A deadline entry armed with the creation covers this placement's reservations (the
    # sweeper goes by the record's own due time, re-arming when the entry fires early).
    armed_at_creation: bool = False


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
        store: RedisJobStore,
        finder: CandidateFinder,
        router: GatewayRouter,
        affinity: Affinity,
        clock: Clock,
        settings: DispatcherSettings,
        rng: random.Random | None = None,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self._store = store
        self._finder = finder
        self._router = router
        self._affinity = affinity
        self._clock = clock
        self._settings = settings
        self._rng = rng or random.Random()
        self._metrics = metrics or DispatcherMetrics()

    async def candidates(self, ticket: Ticket, exclude: set[str] | None = None) -> list[Candidate]:
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
                sorted(Exclusions.parse(ticket.excluded).always if exclude is None else exclude),
                self._settings.candidate_sample,
                preferred,
                route.both_ways,
            )
            span.set_attribute(names.SELECT_CANDIDATES, len(found))
            set_attributes(span, {names.POOL_ID: preferred})
            return found

    async def place(
        self,
        ticket: Ticket,
        attempt: int,
        first: tuple[list[Candidate], list[NodeLoad]] | None = None,
    ) -> Placed:
        """Place attempt `attempt`; `first` is a candidate sample already read (with loads)."""
        with tracer.start_as_current_span(
            names.DISPATCHER_PLACE,
            attributes={names.JOB_ID: ticket.job_id, names.JOB_ATTEMPT: attempt},
        ) as span:
            placed = await self._place(ticket, attempt, first)
            self._metrics.placed(placed.outcome)
            span.set_attribute(names.PLACE_OUTCOME, placed.outcome.value)
            set_attributes(span, {names.NODE_ID: placed.node_id, names.POOL_ID: placed.pool_id})
            return placed

    async def _place(
        self,
        ticket: Ticket,
        attempt: int,
        first: tuple[list[Candidate], list[NodeLoad]] | None,
    ) -> Placed:
        seen_any = False
        # Nodes that failed the job are out while on the same connection (exclusion.py).
        excluded = Exclusions.parse(ticket.excluded)
        tried = set(excluded.always)
        for _ in range(self._settings.selection_rounds):
            if first is not None:
                candidates, loads = first
                first = None
            else:
                candidates = await self.candidates(ticket, tried)
                loads = await self._store.node_loads([c.node_id for c in candidates])
            if not candidates:
                break
            tried.update(c.node_id for c in candidates)
            loads = [n for n in loads if not excluded.covers(n.node_id, n.owner_epoch)]
            if not loads:
                continue
            seen_any = True
            pools = {c.node_id: c.pool_id for c in candidates}
            for load in self._order(ticket, loads):
                placed = await self._try(ticket, attempt, load, pools.get(load.node_id, ""))
                if placed is None:
                    continue
                if placed.outcome is Outcome.DISPATCHED or placed.outcome is Outcome.SUPERSEDED:
                    return placed
                attempt = placed.attempt  # undeliverable: the same attempt number goes again
        return Placed(Outcome.NO_CAPACITY if seen_any else Outcome.NO_NODE, attempt)

    async def _unschedule_if_finished(self, job_id: str) -> None:
        """A job that finished meanwhile needs no deadline; a live one (another attempt
        took over) keeps the entry its own placement armed."""
        record = await self._store.get(job_id)
        if record is None or record.state.terminal:
            await self._store.unschedule(job_id)

    def _order(self, ticket: Ticket, loads: list[NodeLoad]) -> list[NodeLoad]:
        order = power_of_two_order(loads, self._rng)
        # A later part of a multi-part turn goes to the node that has the earlier parts.
        sticky = self._affinity.turn_node(turn_key(ticket.spec.session_id, ticket.spec.turn_id))
        if sticky:
            order.sort(key=lambda load: load.node_id != sticky)
        return order

    async def _try(
        self, ticket: Ticket, attempt: int, load: NodeLoad, pool_id: str
    ) -> Placed | None:
        """One node: None when it had no slot; a Placed when the attempt was used up."""
        store, settings = self._store, self._settings
        now = self._clock.now_ms()
        due = now + settings.reservation_ttl_ms
        # Arm the timeout alongside the reservation (not after it): a stray entry is
        # harmless, the sweeper always goes by the job record's own due time.
        with tracer.start_as_current_span(
            names.DISPATCHER_RESERVE, attributes={names.NODE_ID: load.node_id}
        ) as span:
            if ticket.armed_at_creation:
                reserved = await store.reserve(load.node_id, ticket.job_id, attempt, now)
            else:
                reserved, _ = await asyncio.gather(
                    store.reserve(load.node_id, ticket.job_id, attempt, now),
                    store.schedule(ticket.job_id, due),
                )
            if not reserved:
                span.set_attribute(names.RESERVE_OUTCOME, "full")
                return None
            if not await store.assign(
                ticket.job_id, load.node_id, attempt, now_ms=now, due_ms=due, pool_id=pool_id
            ):
                span.set_attribute(names.RESERVE_OUTCOME, "superseded")
                await store.release(load.node_id, ticket.job_id, attempt)
                return Placed(Outcome.SUPERSEDED, attempt)
            span.set_attribute(names.RESERVE_OUTCOME, "reserved")
        request = assignment_request(
            load.node_id, load.owner_epoch, ticket.job_id, attempt, ticket.trace_id, ticket.spec
        )
        with tracer.start_as_current_span(
            names.DISPATCHER_DELIVER,
            attributes={names.NODE_ID: load.node_id, names.GATEWAY_ID: load.owner_gateway},
        ) as span:
            delivered = await self._router.deliver_to_node(load.owner_gateway, request)
            span.set_attribute(names.DELIVERED, delivered)
        if delivered:
            now = self._clock.now_ms()
            if ticket.created_ms:
                self._metrics.dispatch_latency.observe(max(0, now - ticket.created_ms) / 1000)
            # The result deadline is armed before the confirmation it guards: a node that
            # answers at once has its result's unschedule land after this, never before.
            due_result = now + settings.job_timeout_ms
            await store.schedule(ticket.job_id, due_result)
            deadline = await store.confirm(
                ticket.job_id,
                load.node_id,
                attempt,
                now_ms=now,
                due_ms=due_result,
                what="delivered",
            )
            if deadline is None:
                await self._unschedule_if_finished(ticket.job_id)
            elif deadline != due_result:
                await store.schedule(ticket.job_id, deadline)  # an earlier ack set it
            spec = ticket.spec
            await self._affinity.placed(
                spec.session_id, turn_key(spec.session_id, spec.turn_id), pool_id, load.node_id
            )
            return Placed(Outcome.DISPATCHED, attempt, load.node_id, pool_id)
        # The owner gateway is gone or lost the socket: not the job's fault. Take the
        # attempt back (its number is reused) and free the slot; the next node gets it.
        ticket.excluded.add(exclusion_entry(load.node_id, load.owner_epoch))
        await store.abandon(
            ticket.job_id,
            now_ms=self._clock.now_ms(),
            node_id=load.node_id,
            attempt=attempt,
            reason="NODE_UNAVAILABLE",
            only_if_due=False,
            pending_due_ms=due,
            counts=False,
            epoch=load.owner_epoch,
        )
        await store.release(load.node_id, ticket.job_id, attempt)
        return Placed(Outcome.NO_CAPACITY, attempt)


def ticket_of(record: JobRecord, excluded: Iterable[str]) -> Ticket:
    """A stored job as placement needs it, for its next attempt."""
    return Ticket(
        record.job_id,
        record.trace_id,
        job_pb2.JobSpec.FromString(record.spec),
        set(excluded),
        created_ms=record.created_ms,
    )
