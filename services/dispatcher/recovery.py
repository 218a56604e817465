"""Jobs that need attention later: deadlines, lost nodes, and (waiting.py) jobs waiting
for capacity.

Every dispatcher replica runs these loops; each item is handled once: timeouts are
leased from shared buckets, waiting jobs are leased off their line (pending.py), and
every transition is a fenced script, so two replicas acting on the same job change it
once. Nothing a replica holds is lost when it dies: both leases run out and the work
comes back to the others. (Leaked slots are found by slot_audit.py.)
"""

from __future__ import annotations

import asyncio
import logging

from opentelemetry import trace

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.clock import Clock
from lingua_common.routes import label_of_key, route_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import continued, get_tracer, link_to
from services.dispatcher.model import Abandoned, JobRecord, JobState
from services.dispatcher.outcomes import SessionNotifier
from services.dispatcher.pending import PendingQueues
from services.dispatcher.placement import Outcome, Placed, Placer, ticket_of
from services.dispatcher.router import GatewayRouter
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import TIMEOUT_BUCKETS, RedisJobStore
from services.dispatcher.waiting import PairsOfNode, WaitingJobs

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


CLAIM_BATCH = 100
NODE_EVENTS_BLOCK_MS = 1_000


class Recovery:
    def __init__(
        self,
        store: RedisJobStore,
        queues: PendingQueues,
        placer: Placer,
        notifier: SessionNotifier,
        router: GatewayRouter,
        clock: Clock,
        settings: DispatcherSettings,
        pairs_of_node: PairsOfNode,
    ) -> None:
        self._store = store
        self._placer = placer
        self._notifier = notifier
        self._router = router
        self._clock = clock
        self._settings = settings
        self.waiting = WaitingJobs(
            store, queues, placer, clock, settings, pairs_of_node, self._dispatched
        )

    # --- placing and waiting ------------------------------------------------------------------

    async def settle(
        self,
        record: JobRecord,
        placed: Placed,
        spec: job_pb2.JobSpec,
        no_node_code: str = "NO_AVAILABLE_NODE",
        *,
        wait_for_a_node_ms: int = 0,
    ) -> Placed:
        """After a placement that did not dispatch: wait for capacity, or fail.

        `no_node_code` is what the client hears when nobody (else) serves the pair: for a
        retry, the reason of the retry (its only node timed out, or went away). With
        `wait_for_a_node_ms`, a job that found nobody waits that long for a node to show
        up (a new job: the index may not show a node that was just acknowledged).
        Returns NO_CAPACITY when the job now waits."""
        if placed.outcome is Outcome.NO_CAPACITY:
            wait_ms = self._settings.pending_timeout_ms
        elif placed.outcome is Outcome.NO_NODE and wait_for_a_node_ms > 0:
            wait_ms = wait_for_a_node_ms
        else:
            wait_ms = 0
        if wait_ms:
            now = self._clock.now_ms()
            due = now + wait_ms
            src, tgt = route_of(spec).key  # the route's line (a two-way job has its own)
            await self._store.schedule(record.job_id, due)
            if await self._store.pend(
                record.job_id, now_ms=now, due_ms=due
            ) and await self.waiting.join(record.job_id, src, tgt, now):
                logger.info(
                    "job pending",
                    extra={"job_id": record.job_id, "state": "pending", "due_ms": due},
                )
                trace.get_current_span().add_event(
                    names.DISPATCHER_PEND, {names.SRC_LANG: src, names.TGT_LANG: tgt}
                )
                return Placed(Outcome.NO_CAPACITY, placed.attempt)
            placed = Placed(Outcome.NO_NODE, placed.attempt)  # the queue is full
        if placed.outcome is Outcome.NO_NODE:
            await self.fail(record, no_node_code, f"no node available for {route_of(spec).label}")
        return placed

    async def fail(self, record: JobRecord, code: str, message: str) -> bool:
        finished = await self._store.finish(
            record.job_id,
            JobState.FAILED,
            now_ms=self._clock.now_ms(),
            error_code=code,
            error_message=message,
        )
        if finished is None:
            return False
        await self.waiting.leave(record)
        logger.info(
            "job failed",
            extra={
                "job_id": record.job_id,
                "state": "failed",
                "code": code,
                "attempt": record.attempt,
            },
        )
        await self._notifier.failure(
            session_id=finished.session_id,
            reply_to=finished.reply_to,
            utterance_index=finished.utterance_index,
            job_id=record.job_id,
            trace_id=finished.trace_id,
            code=code,
            message=message,
        )
        # Disarmed last: until then the timer brings a replica back to tell the client,
        # should this one die half-way (follow_up_finished).
        await self._store.unschedule(record.job_id)
        return True

    async def follow_up_finished(self, record: JobRecord) -> None:
        """A finished job whose follow-up may not have happened: the replica that finished
        it may have died before the client heard (its timer came due, or its node's
        result came again). Tell the client (again: a session keeps one answer per
        utterance), free the slot, then disarm the timer."""
        logger.info(
            "finished job followed up",
            extra={"job_id": record.job_id, "state": record.state.value},
        )
        # The result the job kept (the first one), whatever a repeat carries.
        result = job_pb2.JobResult.FromString(record.result) if record.result else None
        if result is not None:
            await self._notifier.result(
                session_id=record.session_id,
                reply_to=record.reply_to,
                utterance_index=record.utterance_index,
                job_id=record.job_id,
                trace_id=record.trace_id,
                result=result,
                dispatched_ms=record.dispatched_ms,
            )
        else:
            await self._notifier.failure(
                session_id=record.session_id,
                reply_to=record.reply_to,
                utterance_index=record.utterance_index,
                job_id=record.job_id,
                trace_id=record.trace_id,
                code=record.error_code,
                message=record.error_message,
            )
        if record.node_id:
            outcome = "none" if result is None else "ok" if result.success else "fail"
            if await self._store.release(
                record.node_id,
                record.job_id,
                record.attempt,
                outcome=outcome,
                now_ms=self._clock.now_ms(),
            ):
                await self.waiting.slot_freed(record.node_id)
        await self._store.unschedule(record.job_id)

    async def retry(self, record: JobRecord, abandoned: Abandoned, reason: str) -> None:
        """Place the next attempt of a job whose attempt was abandoned."""
        ticket = ticket_of(record, abandoned.excluded)
        placed = await self._placer.place(ticket, abandoned.attempt + 1)
        current = await self._store.get(record.job_id)
        if current is not None:
            placed = await self.settle(current, placed, ticket.spec, no_node_code=reason)
        if placed.outcome is Outcome.DISPATCHED:
            await self._dispatched(record, placed, reason)

    async def _dispatched(self, record: JobRecord, placed: Placed, after: str) -> None:
        """A job placed after the fact (a retry, a wait): logged and told to its session."""
        logger.info(
            "job dispatched",
            extra={
                "job_id": record.job_id,
                "state": "dispatched",
                "node_id": placed.node_id,
                "attempt": placed.attempt,
                "after": after,
            },
        )
        await self._notifier.event(
            session_id=record.session_id,
            reply_to=record.reply_to,
            utterance_index=record.utterance_index,
            job_id=record.job_id,
            trace_id=record.trace_id,
            event="DISPATCHED",
        )

    # --- deadlines ------------------------------------------------------------------------------

    async def sweep_once(self) -> int:
        now = self._clock.now_ms()
        handled = 0
        for bucket in range(TIMEOUT_BUCKETS):
            for job_id in await self._store.claim_due(
                bucket, now, self._settings.sweep_lease_ms, CLAIM_BATCH
            ):
                await self._due(job_id)
                handled += 1
        return handled

    async def _due(self, job_id: str) -> None:
        record = await self._store.get(job_id)
        now = self._clock.now_ms()
        if record is None:
            await self._store.unschedule(job_id)
            return
        if record.state.terminal:
            await self.follow_up_finished(record)
            return
        if record.due_ms > now:
            await self._store.schedule(job_id, record.due_ms)  # re-armed since: not yet
            return
        with continued(
            tracer,
            names.DISPATCHER_TIMEOUT,
            record.trace_parent,
            {
                names.JOB_ID: job_id,
                names.JOB_STATE: record.state.value,
                names.NODE_ID: record.node_id,
                names.JOB_ATTEMPT: record.attempt,
            },
        ):
            await self._expired(record)

    async def _expired(self, record: JobRecord) -> None:
        if record.state is JobState.PENDING:
            await self.fail(
                record,
                "NO_AVAILABLE_NODE",
                f"no node available for {label_of_key(record.src_lang, record.tgt_lang)} in time",
            )
            return
        await self.abandon(record, "JOB_TIMEOUT", only_if_due=True)

    async def abandon(
        self, record: JobRecord, reason: str, *, only_if_due: bool, epoch: int | None = None
    ) -> None:
        """Give up the job's current attempt: cancel it on its node, free its slot, retry.
        `epoch`: of the node's connection the attempt ran on (looked up when not given);
        the node is excluded from the job under it only."""
        if epoch is None and record.node_id:
            epoch = await self._store.attempt_epoch(record.node_id, record.dispatched_ms)
        now = self._clock.now_ms()
        abandoned = await self._store.abandon(
            record.job_id,
            now_ms=now,
            node_id=record.node_id,
            attempt=record.attempt,
            reason=reason,
            only_if_due=only_if_due,
            pending_due_ms=now + self._settings.pending_timeout_ms,
            epoch=epoch,
        )
        if abandoned is None:
            return
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
            await self._store.release(abandoned.node_id, record.job_id, abandoned.attempt)
            await self.cancel_on_node(abandoned.node_id, record, reason)
        if abandoned.retry:
            await self.retry(record, abandoned, reason)
            return
        await self._notifier.failure(
            session_id=abandoned.session_id,
            reply_to=abandoned.reply_to,
            utterance_index=abandoned.utterance_index,
            job_id=record.job_id,
            trace_id=abandoned.trace_id,
            code=reason,
            message=f"no result after {abandoned.attempt} attempt(s)",
        )
        await self._store.unschedule(record.job_id)  # last, as in fail()

    async def cancel_on_node(self, node_id: str, record: JobRecord, reason: str) -> None:
        gateway, epoch = await self._store.node_owner(node_id)
        if gateway:
            await self._router.deliver_to_node(
                gateway,
                gw_pb.DeliverToNodeRequest(
                    node_id=node_id,
                    epoch=epoch,
                    job_cancel=gw_pb.JobCancel(
                        job_id=record.job_id, trace_id=record.trace_id, reason=reason
                    ),
                ),
            )

    # --- lost nodes -----------------------------------------------------------------------------

    async def node_offline(self, node_id: str, cause: str = "", epoch: int | None = None) -> int:
        """Fail over every job the node holds, at once (not at their deadlines).

        `cause` is the traceparent of whatever took the node offline: each job's failover
        continues the job's own trace and links to it."""
        moved = 0
        for job_id, attempt in await self._store.node_job_ids(node_id):
            record = await self._store.get(job_id)
            if record is None or record.state.terminal:
                await self._store.release(node_id, job_id, attempt)
                continue
            if record.node_id == node_id and record.attempt == attempt:
                with continued(
                    tracer,
                    names.DISPATCHER_FAILOVER,
                    record.trace_parent,
                    {names.JOB_ID: job_id, names.NODE_ID: node_id, names.JOB_ATTEMPT: attempt},
                    links=link_to(cause),
                ):
                    await self.abandon(record, "NODE_UNAVAILABLE", only_if_due=False, epoch=epoch)
                moved += 1
            else:
                await self._store.release(node_id, job_id, attempt)  # a leftover slot
        return moved

    async def follow_node_events(self) -> None:
        after = await self._store.last_node_event_id()
        while True:
            for event_id, fields in await self._store.node_events_after(
                after, NODE_EVENTS_BLOCK_MS, 100
            ):
                after = event_id
                node_id = fields.get("node", "")
                if fields.get("kind") == "offline":
                    epoch = int(fields.get("epoch") or 0) or None  # the connection that went
                    await self.node_offline(node_id, fields.get("traceparent", ""), epoch)
                elif fields.get("status") == "ready":
                    await self.waiting.slot_freed(node_id)  # a node came up: room, maybe

    async def sweep_loop(self) -> None:
        trimmed_at = 0
        while True:
            await self.sweep_once()
            now = self._clock.now_ms()
            if now - trimmed_at > 10_000:
                await self._store.trim_recent(now - self._settings.job_retention_ms)
                trimmed_at = now
            await asyncio.sleep(self._settings.sweep_interval_ms / 1000)
