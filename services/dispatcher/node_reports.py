"""What nodes report about their jobs: progress (accepted, partial text) and results.

Each report is fenced by node and attempt in Redis, so only the attempt holding a job
moves it; the follow-up of a result (tell the client, free the slot, disarm the timer)
is idempotent and redone when the same result is reported again.
"""

from __future__ import annotations

import asyncio
import logging

from lingua.common.v1 import job_pb2
from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer
from services.dispatcher.model import JobRecord, JobState
from services.dispatcher.outcomes import SessionNotifier
from services.dispatcher.recovery import Recovery
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)


class NodeReports:
    def __init__(
        self,
        store: RedisJobStore,
        recovery: Recovery,
        notifier: SessionNotifier,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._store = store
        self._recovery = recovery
        self._notifier = notifier
        self._clock = clock
        self._settings = settings
        self._background = BackgroundTasks()

    async def complete_job(
        self, job_id: str, node_id: str, attempt: int, result: job_pb2.JobResult
    ) -> tuple[bool, JobState]:
        with tracer.start_as_current_span(
            names.DISPATCHER_COMPLETE,
            attributes={names.JOB_ID: job_id, names.NODE_ID: node_id, names.JOB_ATTEMPT: attempt},
        ) as span:
            accepted, state = await self._complete(job_id, node_id, attempt, result)
            span.set_attribute(names.ACCEPTED, accepted)
            span.set_attribute(names.JOB_STATE, state.value)
            return accepted, state

    async def _complete(
        self, job_id: str, node_id: str, attempt: int, result: job_pb2.JobResult
    ) -> tuple[bool, JobState]:
        final = JobState.COMPLETED if result.success else JobState.FAILED
        now = self._clock.now_ms()
        finished = await self._store.finish(
            job_id,
            final,
            now_ms=now,
            node_id=node_id,
            attempt=attempt,
            result=result.SerializeToString(),
            error_code=result.error.code if not result.success else "",
            error_message=result.error.message if not result.success else "",
        )
        if finished is None:
            record = await self._store.get(job_id)
            if record is not None and _finished_by(record, final, node_id, attempt):
                # This very result finished the job already, and the call is repeated: the
                # replica that took it may have died before the client heard of it. Still
                # a duplicate to the caller (accepted=False): the job did not change.
                await self._recovery.follow_up_finished(record)
                return False, record.state
            logger.info(
                "result ignored",
                extra={
                    "job_id": job_id,
                    "node_id": node_id,
                    "attempt": attempt,
                    "state": record.state.value if record else "missing",
                },
            )
            return False, record.state if record else JobState.FAILED
        logger.info(
            "job finished",
            extra={
                "job_id": job_id,
                "state": final.value,
                "node_id": node_id,
                "attempt": attempt,
                "code": result.error.code if not result.success else "",
            },
        )
        # The client waits on delivery, the slot only on bookkeeping: at once. The timer
        # is disarmed last: until then it brings a replica back should this one die.
        await asyncio.gather(
            self._notifier.result(
                session_id=finished.session_id,
                reply_to=finished.reply_to,
                utterance_index=finished.utterance_index,
                job_id=job_id,
                trace_id=finished.trace_id,
                result=result,
                dispatched_ms=finished.dispatched_ms,
            ),
            self._store.release(
                node_id, job_id, attempt, outcome="ok" if result.success else "fail", now_ms=now
            ),
        )
        await self._store.unschedule(job_id)
        self._background.spawn(self._recovery.waiting.slot_freed(node_id))
        return True, final

    async def report_event(
        self, job_id: str, node_id: str, attempt: int, kind: str, text: str, is_final: bool
    ) -> bool:
        with tracer.start_as_current_span(
            names.DISPATCHER_EVENT,
            attributes={
                names.JOB_ID: job_id,
                names.NODE_ID: node_id,
                names.JOB_ATTEMPT: attempt,
                names.MESSAGE_TYPE: kind,
            },
        ) as span:
            accepted = await self._report_event(job_id, node_id, attempt, kind, text, is_final)
            span.set_attribute(names.ACCEPTED, accepted)
            return accepted

    async def _report_event(
        self, job_id: str, node_id: str, attempt: int, kind: str, text: str, is_final: bool
    ) -> bool:
        now = self._clock.now_ms()
        deadline = await self._store.confirm(
            job_id,
            node_id,
            attempt,
            now_ms=now,
            due_ms=now + self._settings.job_timeout_ms,
            what=kind,
        )
        if deadline is None:
            return False
        await self._store.schedule(job_id, deadline)
        record = await self._store.get(job_id)
        if record is None or record.state.terminal:
            # Its result overtook this report: the result's unschedule came first.
            await self._store.unschedule(job_id)
            return True
        if not record.session_id:
            return True
        if kind == "partial":
            await self._notifier.partial(
                session_id=record.session_id,
                reply_to=record.reply_to,
                utterance_index=record.utterance_index,
                job_id=job_id,
                trace_id=record.trace_id,
                text=text,
                is_final=is_final,
            )
        elif kind == "accepted":
            logger.info(
                "job accepted",
                extra={
                    "job_id": job_id,
                    "state": "accepted",
                    "node_id": node_id,
                    "attempt": attempt,
                },
            )
            await self._notifier.event(
                session_id=record.session_id,
                reply_to=record.reply_to,
                utterance_index=record.utterance_index,
                job_id=job_id,
                trace_id=record.trace_id,
                event="NODE_ACCEPTED",
                elapsed_ms=max(0, now - record.created_ms),
            )
        return True


def _finished_by(record: JobRecord, final: JobState, node_id: str, attempt: int) -> bool:
    """Whether this node's result of this attempt is what finished the job."""
    return (
        record.state is final
        and record.state in (JobState.COMPLETED, JobState.FAILED)
        and record.node_id == node_id
        and record.attempt == attempt
        and bool(record.result)
    )
