"""Telling a session what became of its utterance (through the gateway that holds it)."""

from __future__ import annotations

import logging
import time

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.router import GatewayRouter

logger = logging.getLogger(__name__)


class SessionNotifier:
    def __init__(self, router: GatewayRouter, metrics: DispatcherMetrics | None = None) -> None:
        self._router = router
        self._metrics = metrics or DispatcherMetrics()

    async def result(
        self,
        *,
        session_id: str,
        reply_to: str,
        utterance_index: int,
        job_id: str,
        trace_id: str,
        result: job_pb2.JobResult,
        dispatched_ms: int,
    ) -> None:
        accepted = time.perf_counter()
        outcome = gw_pb.UtteranceOutcome(result=result, dispatched_at_ms=dispatched_ms)
        if await self._outcome(session_id, reply_to, utterance_index, job_id, trace_id, outcome):
            self._metrics.result_latency.observe(time.perf_counter() - accepted)

    async def failure(
        self,
        *,
        session_id: str,
        reply_to: str,
        utterance_index: int,
        job_id: str,
        trace_id: str,
        code: str,
        message: str,
    ) -> None:
        outcome = gw_pb.UtteranceOutcome(error=job_pb2.JobError(code=code, message=message))
        await self._outcome(session_id, reply_to, utterance_index, job_id, trace_id, outcome)

    async def _outcome(
        self,
        session_id: str,
        reply_to: str,
        utterance_index: int,
        job_id: str,
        trace_id: str,
        outcome: gw_pb.UtteranceOutcome,
    ) -> bool:
        """The one answer of an utterance, addressed to its session; True when its
        session's gateway took it."""
        outcome.utterance_index = utterance_index
        outcome.job_id = job_id
        outcome.trace_id = trace_id
        return await self._send(
            reply_to, gw_pb.DeliverToSessionRequest(session_id=session_id, outcome=outcome)
        )

    async def event(
        self,
        *,
        session_id: str,
        reply_to: str,
        utterance_index: int,
        job_id: str,
        trace_id: str,
        event: str,
        elapsed_ms: int | None = None,
    ) -> None:
        ui = gw_pb.UiEvent(
            utterance_index=utterance_index, job_id=job_id, trace_id=trace_id, event=event
        )
        if elapsed_ms is not None:
            ui.elapsed_ms = elapsed_ms
        await self._send(
            reply_to, gw_pb.DeliverToSessionRequest(session_id=session_id, ui_event=ui)
        )

    async def partial(
        self,
        *,
        session_id: str,
        reply_to: str,
        utterance_index: int,
        job_id: str,
        trace_id: str,
        text: str,
        is_final: bool,
    ) -> None:
        await self._send(
            reply_to,
            gw_pb.DeliverToSessionRequest(
                session_id=session_id,
                asr_partial=gw_pb.AsrPartial(
                    utterance_index=utterance_index,
                    job_id=job_id,
                    trace_id=trace_id,
                    text=text,
                    is_final=is_final,
                ),
            ),
        )

    async def _send(self, reply_to: str, request: gw_pb.DeliverToSessionRequest) -> bool:
        if not request.session_id:
            return False  # an API job: callers read it with GetJob / WatchJob
        if not await self._router.deliver_to_session(reply_to, request):
            logger.warning(
                "session unreachable: answer kept in the job record only",
                extra={"session_id": request.session_id},
            )
            return False
        return True
