"""Jobs that need attention later: deadlines that came due, and nodes that were lost.

Every dispatcher replica runs these loops; each item is handled once: timeouts are
leased from shared buckets, and every transition is a fenced script, so two replicas
acting on the same job change it once. Nothing a replica holds is lost when it dies:
its leases run out and the work comes back to the others. What to do is decided here;
the transitions and their follow-ups are lifecycle.py's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lingua_common.clock import Clock
from lingua_common.routes import label_of_key
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import continued, get_tracer, link_to
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.loads import LoadEstimates
from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.pending import PendingQueues
from services.dispatcher.retries import Retries
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore
from services.dispatcher.waiting import WaitingJobs

tracer = get_tracer(__name__)

CLAIM_BATCH = 100
NODE_EVENTS_BLOCK_MS = 1_000
TRIM_EVERY_MS = 10_000


class Recovery:
    def __init__(
        self,
        store: RedisJobStore,
        lifecycle: JobLifecycle,
        retries: Retries,
        waiting: WaitingJobs,
        queues: PendingQueues,
        loads: LoadEstimates,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._retries = retries
        self._waiting = waiting
        self._queues = queues
        self._loads = loads
        self._clock = clock
        self._settings = settings

    # --- deadlines ------------------------------------------------------------------------------

    async def sweep_once(self) -> int:
        """Handle every job whose time came (all buckets claimed in one round trip)."""
        now = self._clock.now_ms()
        due = await self._store.claim_due_all(now, self._settings.sweep_lease_ms, CLAIM_BATCH)
        for job_id in due:
            await self._due(job_id)
        return len(due)

    async def _due(self, job_id: str) -> None:
        record = await self._store.get(job_id)
        now = self._clock.now_ms()
        if record is None:
            await self._store.unschedule(job_id)
            return
        if record.state.terminal:
            # Its answer was never acknowledged: the replica that finished it may have
            # died first, or the session's gateway was away.
            await self._lifecycle.redeliver(record)
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
        pair = (record.src_lang, record.tgt_lang)
        if record.state is JobState.PENDING:
            if await self._queues.holds(*pair, record.job_id):
                # Its wait in the line is over (a job placed meanwhile is not failed).
                await self._lifecycle.end(
                    record.job_id,
                    pair,
                    JobState.FAILED,
                    "NO_AVAILABLE_NODE",
                    f"no node available for {label_of_key(*pair)} in time",
                    only_from=JobState.PENDING,
                )
            else:
                # Given back for a retry by a replica that died before placing it.
                await self._retries.resume(record)
            return
        # A result deadline, an unconfirmed reservation, or a creation cut short.
        await self.give_up(record, "JOB_TIMEOUT", only_if_due=True)

    async def give_up(
        self, record: JobRecord, reason: str, *, only_if_due: bool, wait_for_a_node_ms: int = 0
    ) -> bool:
        """Abandon the job's current attempt and place the next one; False when the
        attempt had moved on already."""
        abandoned = await self._lifecycle.abandon(record, reason, only_if_due=only_if_due)
        if abandoned is None:
            return False
        if abandoned.retry:
            await self._retries.retry(
                record, abandoned, reason, wait_for_a_node_ms=wait_for_a_node_ms
            )
        return True

    # --- lost nodes -----------------------------------------------------------------------------

    async def node_offline(self, node_id: str, cause: str = "") -> int:
        """Fail over every job the node holds, at once (not at their deadlines).

        `cause` is the traceparent of whatever took the node offline: each job's failover
        continues the job's own trace and links to it."""
        self._loads.forget(node_id)
        return await self.fail_over(node_id, cause)

    async def fail_over(
        self,
        node_id: str,
        cause: str = "",
        *,
        under: Callable[[int], bool] | None = None,
        wait_for_a_node_ms: int = 0,
    ) -> int:
        """Give up the attempts the node holds — those placed on a connection (epoch) for
        which `under` is true, when given — and place their next ones (which wait up to
        `wait_for_a_node_ms` when nobody serves the pair now)."""
        moved = 0
        for job_id, attempt in await self._store.node_job_ids(node_id):
            record = await self._store.get(job_id)
            if (
                record is None
                or record.state.terminal
                or record.node_id != node_id
                or record.attempt != attempt
            ):
                await self._lifecycle.release_leftover(node_id, job_id, attempt)
                continue
            if under is not None and not under(record.node_epoch):
                continue
            with continued(
                tracer,
                names.DISPATCHER_FAILOVER,
                record.trace_parent,
                {names.JOB_ID: job_id, names.NODE_ID: node_id, names.JOB_ATTEMPT: attempt},
                links=link_to(cause),
            ):
                if await self.give_up(
                    record,
                    "NODE_UNAVAILABLE",
                    only_if_due=False,
                    wait_for_a_node_ms=wait_for_a_node_ms,
                ):
                    moved += 1
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
                    await self.node_offline(node_id, fields.get("traceparent", ""))
                elif fields.get("status") == "ready":
                    self._loads.ready(node_id)
                    self._waiting.slot_freed(node_id)  # a node came up: room, maybe

    async def sweep_loop(self) -> None:
        trimmed_at = 0
        while True:
            await self.sweep_once()
            now = self._clock.now_ms()
            if now - trimmed_at > TRIM_EVERY_MS:
                await self._store.trim_recent(now - self._settings.job_retention_ms)
                trimmed_at = now
            await asyncio.sleep(self._settings.sweep_interval_ms / 1000)
