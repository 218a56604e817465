"""What becomes of a job that has no node right now: its next attempt placed elsewhere,
or it waits for a slot (bounded in time and per pair), or it fails with a reason."""

from __future__ import annotations

import logging

from lingua_common.clock import Clock
from lingua_common.routes import label_of_key
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.model import Abandoned, JobRecord, JobState
from services.dispatcher.placement import Outcome, Placer, Ticket, ticket_of
from services.dispatcher.settings import DispatcherSettings

logger = logging.getLogger(__name__)


def no_node_message(src: str, tgt: str) -> str:
    """`src`, `tgt`: a route's key (a two-way job's reads "no node available for zh<->en")."""
    return f"no node available for {label_of_key(src, tgt)}"


class Retries:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        placer: Placer,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._lifecycle = lifecycle
        self._placer = placer
        self._clock = clock
        self._settings = settings

    async def settle(
        self,
        job_id: str,
        pair: tuple[str, str],
        outcome: Outcome,
        no_node_code: str = "NO_AVAILABLE_NODE",
        *,
        wait_for_a_node_ms: int = 0,
    ) -> Outcome:
        """After a placement found no slot: wait for capacity, or fail.

        `no_node_code` is what the client hears when nobody (else) serves the pair: for a
        retry, the reason of the retry (its only node timed out, or went away). With
        `wait_for_a_node_ms`, a job that found nobody waits that long for a node to show
        up (a new job: the index may not show a node that was just acknowledged).
        Returns NO_CAPACITY when the job now waits, NO_NODE when it failed."""
        if outcome is Outcome.NO_CAPACITY:
            wait_ms = self._settings.pending_timeout_ms
        elif outcome is Outcome.NO_NODE and wait_for_a_node_ms > 0:
            wait_ms = wait_for_a_node_ms
        else:
            wait_ms = 0
        if wait_ms and await self._lifecycle.pend(job_id, pair[0], pair[1], wait_ms):
            return Outcome.NO_CAPACITY
        await self._lifecycle.end(
            job_id, pair, JobState.FAILED, no_node_code, no_node_message(*pair)
        )
        return Outcome.NO_NODE

    async def retry(
        self, record: JobRecord, abandoned: Abandoned, reason: str, *, wait_for_a_node_ms: int = 0
    ) -> None:
        """Place the next attempt of a job whose attempt was given up; with
        `wait_for_a_node_ms`, a retry that finds nobody waits that long for a node (the
        one whose connection ended may be back under a new one)."""
        ticket = ticket_of(record)
        ticket.excluded = abandoned.excluded
        await self._place(
            record, ticket, abandoned.next_attempt, reason, wait_for_a_node_ms=wait_for_a_node_ms
        )

    async def resume(self, record: JobRecord) -> None:
        """A pending job in no waiting line: the replica that gave its attempt up died
        before placing the next one. Place it now, or let it wait (or fail) as usual."""
        await self._place(record, ticket_of(record), record.attempt + 1, "NO_AVAILABLE_NODE")

    async def _place(
        self,
        record: JobRecord,
        ticket: Ticket,
        attempt: int,
        reason: str,
        *,
        wait_for_a_node_ms: int = 0,
    ) -> None:
        placed = await self._placer.place(ticket, attempt)
        if placed.outcome is Outcome.DISPATCHED:
            logger.info(
                "job dispatched",
                extra={
                    "job_id": record.job_id,
                    "state": "dispatched",
                    "node_id": placed.node_id,
                    "attempt": placed.attempt,
                    "after": reason,
                },
            )
            return
        if placed.outcome is Outcome.SUPERSEDED:
            return
        await self.settle(
            record.job_id,
            (record.src_lang, record.tgt_lang),
            placed.outcome,
            no_node_code=reason,
            wait_for_a_node_ms=wait_for_a_node_ms,
        )
