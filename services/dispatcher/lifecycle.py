"""The one owner of a job's lifecycle.

One method per Lua transition — reserve (a node's slot), create, assign, confirm,
finish, abandon, pend — each returning the script's typed reply, then one ordered
follow-up: free the slot, tell the session (or the node), wake a waiting job, disarm the
timer. Everything else in the dispatcher (intake, node reports, deadlines, waiting
lines) only decides which transition happens.

Why this order is crash-safe: Redis records the transition first, and the job's timer
stays armed until the session's gateway has acknowledged the answer (acks.py). A replica
that dies anywhere in a follow-up leaves a timer that brings another replica back
(`redeliver`), and every step of a follow-up is idempotent (a slot is released once, a
session keeps one answer per utterance).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.clock import Clock
from services.dispatcher.acks import AckWork
from services.dispatcher.deliveries import Deliveries
from services.dispatcher.loads import LoadEstimates
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import (
    Abandoned,
    Connection,
    Created,
    JobRecord,
    JobRef,
    JobState,
    Reservation,
    Reserved,
    ResultFate,
)
from services.dispatcher.owners import NodeOwners, Owner
from services.dispatcher.pending import PendingQueues
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import FirstAttempt, NewJobRecord, RedisJobStore

logger = logging.getLogger(__name__)


class WaitingLines(Protocol):
    """The waiting lines of jobs that found no free slot (waiting.py)."""

    async def join(self, job_id: str, src: str, tgt: str, since_ms: int) -> bool: ...

    def slot_freed(self, node_id: str) -> None: ...


@dataclass(frozen=True)
class Seat:
    """A node with a slot reserved for one attempt of a job."""

    node_id: str
    owner: Owner
    pool_id: str
    reservation: Reservation


class JobLifecycle:
    def __init__(
        self,
        store: RedisJobStore,
        queues: PendingQueues,
        deliveries: Deliveries,
        owners: NodeOwners,
        loads: LoadEstimates,
        acks: AckWork,
        clock: Clock,
        settings: DispatcherSettings,
        metrics: DispatcherMetrics,
    ) -> None:
        self._store = store
        self._queues = queues
        self._deliveries = deliveries
        self._owners = owners
        self._loads = loads
        self._acks = acks
        self._clock = clock
        self._settings = settings
        self._metrics = metrics
        self._waiting: WaitingLines | None = None

    def attach_waiting(self, waiting: WaitingLines) -> None:
        """The waiting lines are built on placement, which is built on this: wired last."""
        self._waiting = waiting

    # --- slots ------------------------------------------------------------------------------

    async def reserve(self, node_id: str, job_id: str, attempt: int) -> Reserved:
        """reserve: one slot on a node for one attempt (slot_reserve.lua)."""
        reserved = await self._store.reserve(node_id, job_id, attempt, self._clock.now_ms())
        if reserved.outcome is Reservation.NOT_READY:
            self._loads.not_ready(node_id, self._clock.now_ms())
        elif reserved.outcome is not Reservation.CONFLICT:
            self._loads.seen(node_id, reserved.running, reserved.max_jobs)
        return reserved

    async def _release(
        self, node_id: str, job_id: str, attempt: int, outcome: str = "none"
    ) -> bool:
        """Follow-up step one: free the slot (once), then wake a job waiting for it."""
        if not await self._store.release(
            node_id, job_id, attempt, outcome=outcome, now_ms=self._clock.now_ms()
        ):
            return False
        self._slot_freed(node_id)
        return True

    def _slot_freed(self, node_id: str) -> None:
        self._loads.released(node_id)
        if self._waiting is not None:
            self._waiting.slot_freed(node_id)

    # --- create and assign -----------------------------------------------------------------

    async def create(
        self, job: NewJobRecord, spec: job_pb2.JobSpec, seat: Seat | None, traceparent: str
    ) -> Created:
        """create: the job, once per request id; its first attempt on `seat` when a slot
        was reserved. Follow-up: the assignment goes to the node's gateway; a repeat of
        the request gives back the slot this call reserved."""
        now = self._clock.now_ms()
        first = FirstAttempt(seat.node_id, seat.owner.epoch, seat.pool_id) if seat else None
        created = await self._store.create(
            job, now_ms=now, due_ms=now + self._settings.reservation_ttl_ms, first=first
        )
        if not created.created:
            if seat is not None and _not_the_jobs_slot(seat, created):
                await self._release(seat.node_id, job.job_id, 1)
            return created
        ref = JobRef(job.job_id, job.session_id, job.utterance_index, job.trace_id, job.gateway_id)
        if seat is not None:
            self._send_assignment(ref, seat, 1, spec, traceparent, created_ms=now)
        return created

    async def assign(
        self,
        ref: JobRef,
        seat: Seat,
        attempt: int,
        spec: job_pb2.JobSpec,
        traceparent: str,
        created_ms: int,
    ) -> bool:
        """assign: attempt N of a live, unplaced job runs on `seat` (job_assign.lua).
        Follow-up: the assignment goes out; refused (the job moved on), the slot is freed."""
        now = self._clock.now_ms()
        if not await self._store.assign(
            ref.job_id,
            Connection(seat.node_id, seat.owner.epoch),
            attempt,
            now_ms=now,
            due_ms=now + self._settings.reservation_ttl_ms,
            pool_id=seat.pool_id,
        ):
            if seat.reservation is Reservation.RESERVED:
                await self._release(seat.node_id, ref.job_id, attempt)
            return False
        self._send_assignment(ref, seat, attempt, spec, traceparent, created_ms)
        return True

    def _send_assignment(
        self,
        ref: JobRef,
        seat: Seat,
        attempt: int,
        spec: job_pb2.JobSpec,
        traceparent: str,
        created_ms: int,
    ) -> None:
        assignment = job_pb2.JobAssignment(
            job_id=ref.job_id, attempt_id=attempt, trace_id=ref.trace_id, spec=spec
        )
        node_id = seat.node_id

        def taken() -> None:
            # The node's gateway has the job_assign: the attempt is confirmed.
            latency_ms = max(0, self._clock.now_ms() - created_ms)
            self._metrics.dispatch_latency.observe(latency_ms / 1000)
            self._acks.delivered(ref.job_id, node_id, attempt)

        if not self._deliveries.assignment(seat.owner, node_id, assignment, traceparent, taken):
            # The node's gateway takes nothing more now; unconfirmed, the attempt is
            # given up when its reservation runs out, and the job placed again.
            logger.warning(
                "assignment not queued: the node's gateway is not taking more",
                extra={
                    "job_id": ref.job_id,
                    "node_id": node_id,
                    "gateway_id": seat.owner.gateway_id,
                },
            )
            return
        if ref.has_session:
            self._deliveries.ui_event(ref, "DISPATCHED")

    # --- confirm ------------------------------------------------------------------------------

    async def confirm(
        self,
        job_id: str,
        node_id: str,
        attempt: int,
        what: str,
        text: str = "",
        final: bool = False,
    ) -> bool:
        """confirm: the node shows it has the attempt (job_ack, job_started, asr_partial).
        Follow-up: the session hears of it."""
        now = self._clock.now_ms()
        confirmed = await self._store.confirm(
            job_id,
            node_id,
            attempt,
            now_ms=now,
            due_ms=now + self._settings.job_timeout_ms,
            what=what,
        )
        if confirmed is None:
            return False
        ref = confirmed.ref
        if what == "accepted":
            logger.info(
                "job accepted",
                extra={
                    "job_id": job_id,
                    "state": "accepted",
                    "node_id": node_id,
                    "attempt": attempt,
                },
            )
        if not ref.has_session:
            return True
        if what == "partial":
            self._deliveries.partial(ref, text, final)
        elif what == "accepted":
            self._deliveries.ui_event(ref, "NODE_ACCEPTED", now - confirmed.created_ms)
        return True

    # --- finish ------------------------------------------------------------------------------

    async def finish(
        self, job_id: str, node_id: str, attempt: int, result: job_pb2.JobResult
    ) -> ResultFate:
        """finish: a node's result ends the job, if it comes from the attempt holding it.
        Follow-up: the slot is freed (in the same round trip), the session told, a
        waiting job woken; the timer is disarmed once the session's gateway took the
        answer. A repeat of the result that finished the job redoes the follow-up (the
        replica that took it first may have died before the session heard)."""
        final = JobState.COMPLETED if result.success else JobState.FAILED
        now = self._clock.now_ms()
        finished, released = await self._store.finish_and_release(
            job_id,
            final,
            now_ms=now,
            node_id=node_id,
            attempt=attempt,
            result=result.SerializeToString(),
            error_code="" if result.success else result.error.code,
            error_message="" if result.success else result.error.message,
            follow_up_due_ms=now + self._settings.answer_retry_ms,
        )
        if released:
            self._slot_freed(node_id)
        if finished is None:
            record = await self._store.get(job_id)
            if record is None:
                return ResultFate.UNKNOWN_JOB
            if _finished_by(record, final, node_id, attempt):
                await self.redeliver(record)
                return ResultFate.REPEATED
            logger.info(
                "result ignored",
                extra={
                    "job_id": job_id,
                    "node_id": node_id,
                    "attempt": attempt,
                    "state": record.state.value,
                },
            )
            return ResultFate.STALE
        logger.info(
            "job finished",
            extra={
                "job_id": job_id,
                "trace_id": finished.ref.trace_id,
                "state": final.value,
                "node_id": node_id,
                "attempt": attempt,
                "code": "" if result.success else result.error.code,
            },
        )
        self._tell(
            finished.ref,
            gw_pb.UtteranceOutcome(result=result, dispatched_at_ms=finished.dispatched_ms),
            timed=True,
        )
        return ResultFate.FINISHED

    async def end(
        self,
        job_id: str,
        pair: tuple[str, str],
        state: JobState,
        code: str,
        message: str,
        *,
        only_from: JobState | None = None,
    ) -> bool:
        """finish, without a result: the job is cancelled, or failed for want of a node
        (`only_from`: only if it is still in that state). Follow-up: out of its pair's
        waiting line, its slot freed and its node told to stop, the session told; the
        timer disarmed once the session's gateway took the answer."""
        now = self._clock.now_ms()
        finished = await self._store.finish(
            job_id,
            state,
            now_ms=now,
            follow_up_due_ms=now + self._settings.answer_retry_ms,
            error_code=code,
            error_message=message,
            only_from=only_from,
        )
        if finished is None:
            return False
        logger.info(
            "job cancelled" if state is JobState.CANCELLED else "job failed",
            extra={
                "job_id": job_id,
                "state": state.value,
                "code": code,
                "attempt": finished.attempt,
            },
        )
        await self._queues.drop(pair[0], pair[1], job_id)
        if finished.node_id:
            await self._release(finished.node_id, job_id, finished.attempt)
            self._cancel_on_node(finished.node_id, finished.ref, message or code)
        self._tell(finished.ref, _failure(code, message))
        return True

    async def release_leftover(self, node_id: str, job_id: str, attempt: int) -> bool:
        """A slot held for an attempt that no longer runs there (found by a failover or
        the slot audit); True when this call freed it."""
        return await self._release(node_id, job_id, attempt)

    # --- abandon ------------------------------------------------------------------------------

    async def abandon(
        self, record: JobRecord, reason: str, *, only_if_due: bool, counts: bool = True
    ) -> Abandoned | None:
        """abandon: give up the job's current attempt (timed out, node lost, or never
        delivered). Follow-up: the slot is freed and the node told to stop; out of
        attempts, the session is told. A retry is the caller's decision (retries.py)."""
        now = self._clock.now_ms()
        abandoned = await self._store.abandon(
            record.job_id,
            now_ms=now,
            node_id=record.node_id,
            attempt=record.attempt,
            reason=reason,
            only_if_due=only_if_due,
            # Due soon: should this replica die before the retry is placed (or joins a
            # waiting line, which sets its real wait), the sweeper places it.
            pending_due_ms=now + self._settings.reservation_ttl_ms,
            counts=counts,
        )
        if abandoned is None:
            return None
        logger.info(
            "attempt abandoned",
            extra={
                "job_id": record.job_id,
                "node_id": abandoned.node_id,
                "attempt": abandoned.attempt,
                "reason": reason,
                "retry": abandoned.retry,
            },
        )
        if abandoned.node_id:
            await self._release(abandoned.node_id, record.job_id, abandoned.attempt)
            if counts:
                self._cancel_on_node(abandoned.node_id, record.ref, reason)
        if abandoned.ref is not None:
            await self._store.schedule_by(record.job_id, now + self._settings.answer_retry_ms)
            self._tell(
                abandoned.ref, _failure(reason, f"no result after {abandoned.attempt} attempt(s)")
            )
        return abandoned

    # --- pend ----------------------------------------------------------------------------------

    async def pend(self, job_id: str, src: str, tgt: str, wait_ms: int) -> bool:
        """pend: the job waits for a slot, at most `wait_ms`. Follow-up: it joins its
        pair's waiting line. False when it was not waiting for a node, or the line is full."""
        assert self._waiting is not None, "attach_waiting first"
        now = self._clock.now_ms()
        due = now + wait_ms
        await self._store.schedule(job_id, due)  # armed before the state it guards
        if not await self._store.pend(job_id, now_ms=now, due_ms=due):
            return False
        if not await self._waiting.join(job_id, src, tgt, now):
            return False
        logger.info("job pending", extra={"job_id": job_id, "state": "pending", "due_ms": due})
        return True

    # --- the timer of a finished job -------------------------------------------------------------

    async def redeliver(self, record: JobRecord) -> None:
        """A finished job whose answer no gateway acknowledged: free its slot (again),
        tell the session (again: it keeps one answer per utterance), and keep the timer
        armed until the answer is taken or the job's own deadline has passed."""
        now = self._clock.now_ms()
        logger.info(
            "finished job followed up", extra={"job_id": record.job_id, "state": record.state.value}
        )
        result = job_pb2.JobResult.FromString(record.result) if record.result else None
        if record.node_id:
            outcome = "none" if result is None else "ok" if result.success else "fail"
            await self._release(record.node_id, record.job_id, record.attempt, outcome)
        ref = record.ref
        if (
            not ref.has_session
            or now >= record.created_ms + self._settings.job_deadline_ms
            or not await self._gateway_alive(ref.gateway_id)
        ):
            await self._store.unschedule(record.job_id)  # nobody left to tell
            return
        await self._store.schedule(record.job_id, now + self._settings.answer_retry_ms)
        if result is not None:
            self._tell(
                ref, gw_pb.UtteranceOutcome(result=result, dispatched_at_ms=record.dispatched_ms)
            )
        else:
            self._tell(ref, _failure(record.error_code, record.error_message))

    async def _gateway_alive(self, gateway_id: str) -> bool:
        return self._owners.is_linked(gateway_id) or await self._store.gateway_advertised(
            gateway_id
        )

    # --- telling ---------------------------------------------------------------------------------

    def _tell(self, ref: JobRef, outcome: gw_pb.UtteranceOutcome, *, timed: bool = False) -> None:
        """Follow-up: the session's answer; the timer is disarmed when its gateway took it.
        `timed`: a node's result, whose way to the session is measured."""
        if not ref.has_session:
            self._acks.disarm(ref.job_id)  # an API job: read with GetJob / WatchJob
            return
        told_at = time.perf_counter()

        def taken() -> None:
            if timed:
                self._metrics.result_latency.observe(time.perf_counter() - told_at)
            self._acks.disarm(ref.job_id)

        if not self._deliveries.outcome(ref, outcome, on_ack=taken):
            logger.warning(
                "answer not queued: the session's gateway takes nothing more now; its timer "
                "brings it again",
                extra={"job_id": ref.job_id, "session_id": ref.session_id},
            )

    def _cancel_on_node(self, node_id: str, ref: JobRef, reason: str) -> None:
        owner = self._owners.of(node_id)
        if owner is not None:
            self._deliveries.cancel(owner, node_id, ref, reason)


def _not_the_jobs_slot(seat: Seat, found: Created) -> bool:
    """Whether the slot this creator reserved (for attempt 1 on `seat`) is surely not the
    one the job it found holds, and so is its to give back. Concurrent creators of one
    request reserve the same (job, attempt 1) entry: only the one that wrote it may give
    it back, and only when the job runs elsewhere, under another attempt, or is over.
    A job found not placed yet may be taking that very entry: the slot audit frees it
    should it stay unused."""
    if seat.reservation is not Reservation.RESERVED:
        return False
    if found.state.terminal:
        return True
    elsewhere = found.node_id not in ("", seat.node_id)
    return elsewhere or found.attempt > 1


def _failure(code: str, message: str) -> gw_pb.UtteranceOutcome:
    return gw_pb.UtteranceOutcome(
        error=job_pb2.JobError(code=code or "INTERNAL_ERROR", message=message)
    )


def _finished_by(record: JobRecord, final: JobState, node_id: str, attempt: int) -> bool:
    """Whether this node's result of this attempt is what finished the job."""
    return (
        record.state is final
        and record.state in (JobState.COMPLETED, JobState.FAILED)
        and record.node_id == node_id
        and record.attempt == attempt
        and bool(record.result)
    )
