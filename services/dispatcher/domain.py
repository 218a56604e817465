"""Dispatcher logic: create once, choose, reserve, dispatch; accept fenced results.

Plain code over a RedisJobStore, a CandidateFinder and a GatewayRouter.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Protocol

import grpc

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.clock import Clock
from lingua_common.errors import DomainError
from lingua_common.ids import job_id_for, new_trace_id
from services.dispatcher.model import JobRecord, JobState, NodeLoad
from services.dispatcher.router import GatewayRouter, assignment_request
from services.dispatcher.selection import power_of_two_order
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)


class CandidateFinder(Protocol):
    async def find(
        self, src: str, tgt: str, required: list[str], exclude: list[str], limit: int
    ) -> list[str]: ...


@dataclass(frozen=True)
class Placement:
    """Where a new job went: a node and attempt, or the reason it could not go anywhere."""

    job_id: str
    trace_id: str
    state: JobState
    node_id: str = ""
    attempt: int = 0
    error_code: str = ""
    error_message: str = ""
    created: bool = True


def default_request_id(spec: job_pb2.JobSpec) -> str:
    return f"{spec.session_id}:{spec.utterance_index}:{spec.tgt_lang}"


def required_service_types(pipeline: job_pb2.Pipeline) -> list[str]:
    wanted = (
        ("asr", pipeline.use_asr),
        ("nmt", pipeline.use_nmt),
        ("tts", pipeline.use_tts),
        ("semantic", pipeline.use_semantic),
        ("tone", pipeline.use_tone),
    )
    return [name for name, used in wanted if used]


class Dispatcher:
    def __init__(
        self,
        store: RedisJobStore,
        finder: CandidateFinder,
        router: GatewayRouter,
        clock: Clock,
        settings: DispatcherSettings,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._finder = finder
        self._router = router
        self._clock = clock
        self._settings = settings
        self._rng = rng or random.Random()

    async def create_job(self, request_id: str, spec: job_pb2.JobSpec, reply_to: str) -> Placement:
        if not spec.src_lang or not spec.tgt_lang:
            raise DomainError(
                "INVALID_MESSAGE",
                "src_lang and tgt_lang are required",
                grpc.StatusCode.INVALID_ARGUMENT,
            )
        if not spec.audio:
            raise DomainError("INVALID_MESSAGE", "audio is empty", grpc.StatusCode.INVALID_ARGUMENT)
        request_id = request_id or default_request_id(spec)
        job_id = job_id_for(request_id)
        required = required_service_types(spec.pipeline)
        candidates = await self._finder.find(
            spec.src_lang, spec.tgt_lang, required, [], self._settings.candidate_sample
        )
        # The loads are read while the job is created: one round trip instead of two.
        created, loads = await asyncio.gather(
            self._store.create(
                job_id,
                now_ms=self._clock.now_ms(),
                request_id=request_id,
                spec=spec.SerializeToString(),
                trace_id=new_trace_id(),
                session_id=spec.session_id,
                utterance_index=spec.utterance_index,
                src_lang=spec.src_lang,
                tgt_lang=spec.tgt_lang,
                tenant_id=spec.tenant_id,
                reply_to=reply_to,
            ),
            self._store.node_loads(candidates),
        )
        if not created.created:
            # The same request again: report the job as it stands, never dispatch twice.
            record = await self._store.get(job_id)
            return Placement(
                job_id=job_id,
                trace_id=created.trace_id,
                state=created.state,
                node_id=created.node_id,
                attempt=created.attempt,
                error_code=record.error_code if record else "",
                error_message=record.error_message if record else "",
                created=False,
            )
        placement = await self._place(job_id, created.trace_id, spec, 1, required, loads)
        logger.info(
            "job created",
            extra={
                "job_id": job_id,
                "trace_id": created.trace_id,
                "state": placement.state.value,
                "node_id": placement.node_id,
                "session_id": spec.session_id,
                "utterance_index": spec.utterance_index,
            },
        )
        return placement

    async def _place(
        self,
        job_id: str,
        trace_id: str,
        spec: job_pb2.JobSpec,
        attempt: int,
        required: list[str],
        loads: list[NodeLoad],
    ) -> Placement:
        excluded = [load.node_id for load in loads]
        for _ in range(self._settings.selection_rounds):
            for load in power_of_two_order(loads, self._rng):
                now = self._clock.now_ms()
                if not await self._store.reserve(load.node_id, job_id, attempt, now):
                    continue
                if not await self._store.assign(job_id, load.node_id, attempt, now):
                    # Someone else moved the job on (cancel, another attempt): give back.
                    await self._store.release(load.node_id, job_id, attempt)
                    record = await self._store.get(job_id)
                    return Placement(job_id, trace_id, record.state if record else JobState.FAILED)
                request = assignment_request(
                    load.node_id, load.owner_epoch, job_id, attempt, trace_id, spec
                )
                if await self._router.deliver_to_node(load.owner_gateway, request):
                    return Placement(
                        job_id, trace_id, JobState.DISPATCHED, node_id=load.node_id, attempt=attempt
                    )
                # The owner gateway is gone or lost the socket: not a job failure, next node.
                await self._store.release(load.node_id, job_id, attempt)
                attempt += 1
            # Everyone sampled was busy or gone: sample others.
            candidates = await self._finder.find(
                spec.src_lang, spec.tgt_lang, required, excluded, self._settings.candidate_sample
            )
            if not candidates:
                break
            excluded.extend(candidates)
            loads = await self._store.node_loads(candidates)
        message = f"no node available for {spec.src_lang}->{spec.tgt_lang}"
        await self._store.finish(
            job_id,
            JobState.FAILED,
            now_ms=self._clock.now_ms(),
            error_code="NO_AVAILABLE_NODE",
            error_message=message,
        )
        return Placement(
            job_id, trace_id, JobState.FAILED, error_code="NO_AVAILABLE_NODE", error_message=message
        )

    async def complete_job(
        self, job_id: str, node_id: str, attempt: int, result: job_pb2.JobResult
    ) -> tuple[bool, JobState]:
        final = JobState.COMPLETED if result.success else JobState.FAILED
        finished = await self._store.finish(
            job_id,
            final,
            now_ms=self._clock.now_ms(),
            node_id=node_id,
            attempt=attempt,
            result=result.SerializeToString(),
            error_code=result.error.code if not result.success else "",
            error_message=result.error.message if not result.success else "",
        )
        if finished is None:
            record = await self._store.get(job_id)
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
        outcome = gw_pb.DeliverToSessionRequest(
            session_id=finished.session_id,
            outcome=gw_pb.UtteranceOutcome(
                utterance_index=finished.utterance_index,
                job_id=job_id,
                trace_id=finished.trace_id,
                result=result,
                dispatched_at_ms=finished.dispatched_ms,
            ),
        )
        # The client waits on delivery, the slot only on bookkeeping: do both at once.
        await asyncio.gather(
            self._deliver(finished.reply_to, outcome),
            self._store.release(
                node_id,
                job_id,
                attempt,
                outcome="ok" if result.success else "fail",
                now_ms=self._clock.now_ms(),
            ),
        )
        return True, final

    async def _deliver(self, reply_to: str, request: gw_pb.DeliverToSessionRequest) -> None:
        if not request.session_id:
            return
        if not await self._router.deliver_to_session(reply_to, request):
            logger.warning(
                "outcome undeliverable: session gone",
                extra={"session_id": request.session_id, "job_id": request.outcome.job_id},
            )

    async def report_event(
        self, job_id: str, node_id: str, attempt: int, kind: str, text: str, is_final: bool
    ) -> bool:
        record = await self._store.get(job_id)
        if record is None or record.state.terminal:
            return False
        # asr_partial carries no attempt (0): the node's current attempt is meant.
        if record.node_id != node_id or (attempt and record.attempt != attempt):
            return False
        if not record.session_id:
            return True
        request = gw_pb.DeliverToSessionRequest(session_id=record.session_id)
        if kind == "asr_partial":
            request.asr_partial.CopyFrom(
                gw_pb.AsrPartial(
                    utterance_index=record.utterance_index,
                    job_id=job_id,
                    trace_id=record.trace_id,
                    text=text,
                    is_final=is_final,
                )
            )
        else:
            request.ui_event.CopyFrom(
                gw_pb.UiEvent(
                    utterance_index=record.utterance_index,
                    job_id=job_id,
                    trace_id=record.trace_id,
                    event="NODE_ACCEPTED",
                    elapsed_ms=max(0, self._clock.now_ms() - record.created_ms),
                )
            )
        await self._router.deliver_to_session(record.reply_to, request)
        return True

    async def cancel_job(self, job_id: str, reason: str) -> JobRecord:
        finished = await self._store.finish(
            job_id,
            JobState.CANCELLED,
            now_ms=self._clock.now_ms(),
            error_code="JOB_CANCELLED",
            error_message=reason or "cancelled",
        )
        if finished is not None and finished.node_id:
            await self._store.release(finished.node_id, job_id, finished.attempt)
            gateway, epoch = await self._store.node_owner(finished.node_id)
            if gateway:
                await self._router.deliver_to_node(
                    gateway,
                    gw_pb.DeliverToNodeRequest(
                        node_id=finished.node_id,
                        epoch=epoch,
                        job_cancel=gw_pb.JobCancel(
                            job_id=job_id, trace_id=finished.trace_id, reason=reason
                        ),
                    ),
                )
        if finished is not None and finished.session_id:
            await self._deliver(
                finished.reply_to,
                gw_pb.DeliverToSessionRequest(
                    session_id=finished.session_id,
                    outcome=gw_pb.UtteranceOutcome(
                        utterance_index=finished.utterance_index,
                        job_id=job_id,
                        trace_id=finished.trace_id,
                        error=job_pb2.JobError(code="JOB_CANCELLED", message=reason or "cancelled"),
                    ),
                ),
            )
        return await self.get_job(job_id)

    async def get_job(self, job_id: str) -> JobRecord:
        record = await self._store.get(job_id)
        if record is None:
            raise DomainError("NOT_FOUND", f"no job {job_id}", grpc.StatusCode.NOT_FOUND)
        return record
