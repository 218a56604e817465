"""Jobs waiting for capacity: a bounded line per language pair (pending.py), dispatched
when one of the pair's nodes has room: a freed slot, a node coming up, or the poll
(capacity freed where no event told this replica, e.g. on another replica)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import continued, get_tracer
from services.dispatcher.model import JobState
from services.dispatcher.pending import PendingQueues, Taken
from services.dispatcher.placement import Outcome, Placer, ticket_of
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)

# Which pairs a node serves (from the dispatcher's index replica).
PairsOfNode = Callable[[str], frozenset[tuple[str, str]]]


class WaitingJobs:
    def __init__(
        self,
        store: RedisJobStore,
        queues: PendingQueues,
        placer: Placer,
        clock: Clock,
        settings: DispatcherSettings,
        pairs_of_node: PairsOfNode,
    ) -> None:
        self._store = store
        self._queues = queues
        self._placer = placer
        self._clock = clock
        self._settings = settings
        self._pairs_of_node = pairs_of_node
        self._pending_pairs: set[tuple[str, str]] = set()
        # Pairs being drained on this replica; a slot freed meanwhile makes the drain
        # look once more (it may have looked at that node before the slot was free).
        self._draining: set[tuple[str, str]] = set()
        self._again: set[tuple[str, str]] = set()
        self._background = BackgroundTasks()

    async def join(self, job_id: str, src: str, tgt: str, since_ms: int) -> bool:
        """Put a (pending) job in its pair's line; False when the line is full."""
        if not await self._queues.enqueue(
            src, tgt, job_id, since_ms, self._settings.pending_max_per_pair
        ):
            return False
        self._pending_pairs.add((src, tgt))
        return True

    def slot_freed(self, node_id: str) -> None:
        """Room on this node: dispatch what waits for its pairs. Only pairs known to have
        waiting jobs are looked at (a fleet coming up sends thousands of these); the
        poll adds pairs other replicas queued."""
        pairs = self._pairs_of_node(node_id) & self._pending_pairs
        self._again |= pairs & self._draining
        if pairs - self._draining:
            self._background.spawn(self.drain(pairs - self._draining))

    async def settled(self, timeout_s: float) -> None:
        """Until the drains started by freed slots are done (tests, shutdown)."""
        await self._background.wait(timeout_s)

    async def drain(self, pairs: frozenset[tuple[str, str]] | set[tuple[str, str]]) -> int:
        """Dispatch waiting jobs of these pairs while nodes have room."""
        placed = 0
        for pair in pairs:
            if pair in self._draining:
                continue  # one drain per pair at a time on this replica
            self._draining.add(pair)
            try:
                placed += await self._drain_pair(*pair)
                while pair in self._again:
                    self._again.discard(pair)
                    placed += await self._drain_pair(*pair)
            finally:
                self._draining.discard(pair)
                self._again.discard(pair)
        return placed

    async def _drain_pair(self, src: str, tgt: str) -> int:
        placed = 0
        while True:
            taken = await self._queues.take(
                src, tgt, now_ms=self._clock.now_ms(), lease_ms=self._settings.pending_lease_ms
            )
            if taken is None:
                if await self._queues.forget_pair_if_empty(src, tgt):
                    self._pending_pairs.discard((src, tgt))
                return placed
            outcome = await self._place(taken)
            if outcome is Outcome.DISPATCHED:
                placed += 1
                await self._queues.done(src, tgt, taken)
            elif outcome in (None, Outcome.SUPERSEDED):
                await self._queues.done(src, tgt, taken)  # no longer waiting
            else:
                await self._queues.put_back(src, tgt, taken)  # still no room
                return placed

    async def _place(self, taken: Taken) -> Outcome | None:
        """One attempt at placing a job taken off its line; None if it no longer waits."""
        record = await self._store.get(taken.job_id)
        if record is None or record.state is not JobState.PENDING:
            return None
        with continued(
            tracer,
            names.DISPATCHER_DISPATCH_PENDING,
            record.trace_parent,
            {names.JOB_ID: taken.job_id, names.JOB_ATTEMPT: record.attempt + 1},
        ):
            result = await self._placer.place(ticket_of(record), record.attempt + 1)
        if result.outcome is Outcome.DISPATCHED:
            logger.info(
                "job dispatched",
                extra={
                    "job_id": record.job_id,
                    "state": "dispatched",
                    "node_id": result.node_id,
                    "attempt": result.attempt,
                    "after": "pending",
                },
            )
        return result.outcome

    async def poll(self) -> None:
        """A safety net for capacity freed where no event told us (e.g. another replica)."""
        while True:
            await asyncio.sleep(self._settings.pending_poll_ms / 1000)
            pairs = set(await self._queues.pairs())
            self._pending_pairs |= pairs
            if pairs:
                await self.drain(pairs)
