"""One client's WebSocket (/ws/session): session state, audio cutting, jobs, ordered answers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from websockets.asyncio.connection import Connection

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.errors import wire_code_of
from lingua_common.ids import new_id, new_trace_id
from lingua_common.metadata import REPLY_TO_METADATA_KEY
from services.gateway.context import GatewayContext
from services.gateway.cutting import Trigger, Utterance, UtteranceCutter
from services.gateway.ordering import ResultOrderer
from services.gateway.outbox import Outbox
from services.gateway.wire import client_in, out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)

CUT_FLAGS = {
    Trigger.MANUAL: "is_manual_cut",
    Trigger.PAUSE: "is_timeout_triggered",
    Trigger.MAX_DURATION: "is_max_duration_triggered",
}


class SessionLink:
    def __init__(self, ws: Connection, ctx: GatewayContext) -> None:
        self.ws = ws
        self.ctx = ctx
        self.outbox = Outbox(ws, ctx.settings.limits.send_queue)
        self.session_id = ""
        self._defaults = job_pb2.JobSpec()
        self._cutter = UtteranceCutter(ctx.settings.cutting)
        self._orderer = ResultOrderer(ctx.settings.answer_timeout_ms)
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- inbound ------------------------------------------------------------------------

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "session_init":
            await self._init(client_in.parse_session_init(msg))
            return
        if not self.session_id:
            raise WireError(f"'{kind}' before session_init: initialise the session first")
        if kind == "utterance":
            spec = client_in.parse_utterance(
                msg, self._defaults, self.ctx.settings.limits.max_audio_bytes
            )
            if self._check_session(spec.session_id) and self._accepting():
                self._accept(spec)
        elif kind == "audio_chunk":
            chunk = client_in.parse_audio_chunk(msg, self.ctx.settings.limits.max_audio_bytes)
            if self._check_session(chunk.session_id) and self._accepting():
                now = self.ctx.clock.now_ms()
                cut = self._cutter.add_chunk(chunk.seq, chunk.payload, chunk.is_final, now)
                if cut is not None:
                    self._accept_cut(cut)
                self._mark_activity()
        elif kind == "client_heartbeat":
            if self._check_session(client_in.parse_session_ref(msg)):
                self.outbox.send(out.server_heartbeat(self.session_id, self.ctx.clock.now_ms()))
        elif kind == "session_close":
            if self._check_session(client_in.parse_session_ref(msg)):
                await self._close_requested()
        elif kind in ("tts_started", "tts_play_ended"):
            playback = client_in.parse_tts_playback(msg, ended=kind == "tts_play_ended")
            if self._check_session(playback.session_id):
                if playback.ended:
                    self._cutter.playback_ended(self.ctx.clock.now_ms())
                else:
                    self._cutter.playback_started()
                self._mark_activity()
        else:
            raise WireError(f"unknown message type {kind!r} on /ws/session")

    def _check_session(self, session_id: str) -> bool:
        if session_id == self.session_id:
            return True
        self.outbox.send(
            out.error(
                "INVALID_SESSION", f"session_id {session_id!r} is not this connection's session"
            )
        )
        return False

    def _accepting(self) -> bool:
        if self._closing:
            self.outbox.send(out.error("SESSION_CLOSED", "the session was closed"))
            return False
        return True

    async def _init(self, init: client_in.SessionInit) -> None:
        if self.session_id:
            raise WireError("session_init may be sent once per connection")
        session_id = new_id("sess")
        try:
            await self.ctx.store.open_session(
                session_id,
                init.src_lang,
                init.tgt_lang,
                init.tenant_id,
                self.ctx.clock.now_ms(),
                self.ctx.settings.session_ttl_ms,
            )
        except Exception:
            logger.exception("session state not stored")
            self.outbox.send(
                out.error("SCHEDULER_DEPENDENCY_DOWN", "session state store unavailable; retry")
            )
            return
        self.session_id = session_id
        self._defaults = init.defaults
        self._defaults.session_id = session_id
        self.ctx.sessions[session_id] = self
        self.outbox.send(out.session_init_ack(session_id, new_trace_id(), "opus"))

    # --- utterances -------------------------------------------------------------------------

    def _accept_cut(self, cut: Utterance) -> None:
        spec = job_pb2.JobSpec()
        spec.CopyFrom(self._defaults)
        spec.utterance_index = cut.index
        spec.audio = cut.audio
        spec.audio_format = self.ctx.settings.cutting.audio_format
        spec.sample_rate = self.ctx.settings.cutting.sample_rate
        flag = CUT_FLAGS.get(cut.trigger)
        if flag is not None:
            setattr(spec, flag, True)
        self._accept(spec)

    def _accept(self, spec: job_pb2.JobSpec) -> None:
        index = spec.utterance_index
        if self._orderer.outstanding >= self.ctx.settings.limits.max_outstanding_per_session:
            self.outbox.send(
                out.error("RATE_LIMITED", f"too many utterances awaiting answers; {index} refused")
            )
            return
        if not self._orderer.expect(index, self.ctx.clock.now_ms()):
            self.outbox.send(
                out.error("INVALID_MESSAGE", f"utterance_index {index} was already accepted")
            )
            return
        self._mark_activity()
        task = asyncio.create_task(self._submit(spec))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, spec: job_pb2.JobSpec) -> None:
        index = spec.utterance_index
        try:
            reply = await self.ctx.dispatcher.CreateJob(
                dispatcher_pb.CreateJobRequest(spec=spec),
                metadata=((REPLY_TO_METADATA_KEY, self.ctx.gateway_id),),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            self._answer_error(
                index, "", "", wire_code_of(error), error.details() or "job not created"
            )
            return
        job = reply.job
        self._orderer.note_job(index, job.job_id, job.trace_id)
        if job.state == job_pb2.JOB_STATE_FAILED:
            self._answer_error(index, job.job_id, job.trace_id, job.error.code, job.error.message)
        elif job.state == job_pb2.JOB_STATE_DISPATCHED and reply.created:
            self.outbox.send(
                out.ui_event_message(
                    self.session_id,
                    gw_pb.UiEvent(
                        utterance_index=index,
                        job_id=job.job_id,
                        trace_id=job.trace_id,
                        event="DISPATCHED",
                    ),
                )
            )

    def _answer_error(
        self, index: int, job_id: str, trace_id: str, code: str, message: str
    ) -> None:
        outcome = gw_pb.UtteranceOutcome(
            utterance_index=index,
            job_id=job_id,
            trace_id=trace_id,
            error=job_pb2.JobError(code=code or "INTERNAL_ERROR", message=message),
        )
        self.deliver_outcome(outcome)

    # --- outbound (also called by the gRPC servicer) -------------------------------------------

    def deliver_outcome(self, outcome: gw_pb.UtteranceOutcome) -> bool:
        if self.outbox.closed:
            return False
        messages = out.outcome_messages(self.session_id, outcome, self.ctx.clock.now_ms())
        for message in self._orderer.offer(outcome.utterance_index, messages):
            self.outbox.send(message)
        return not self.outbox.closed

    def deliver_now(self, message: dict[str, Any]) -> bool:
        return self.outbox.send(message)

    # --- time ------------------------------------------------------------------------------

    def _mark_activity(self) -> None:
        self.ctx.active_sessions.add(self)

    def tick(self, now_ms: int) -> None:
        """Pause cuts and answer timeouts; called by the replica's ticker."""
        cut = self._cutter.poll(now_ms)
        if cut is not None:
            self._accept_cut(cut)
        for message in self._orderer.expire(now_ms, self.session_id):
            self.outbox.send(message)
        if not self._cutter.has_audio and not self._orderer.outstanding:
            self.ctx.active_sessions.discard(self)

    # --- closing ------------------------------------------------------------------------------

    async def _close_requested(self) -> None:
        cut = self._cutter.close()
        if cut is not None:
            self._accept_cut(cut)
        self._closing = True
        self.outbox.send(out.session_close_ack(self.session_id))

    async def closed(self) -> None:
        """The socket is gone. Jobs already accepted still run; their answers have nowhere to go."""
        self.ctx.active_sessions.discard(self)
        await self.outbox.close()
        if not self.session_id:
            return
        if self.ctx.sessions.get(self.session_id) is self:
            del self.ctx.sessions[self.session_id]
        dropped = self._cutter.buffered_bytes
        if dropped:
            logger.info(
                "client left with audio buffered",
                extra={"session_id": self.session_id, "bytes": dropped},
            )
        try:
            await self.ctx.store.close_session(self.session_id, self.ctx.clock.now_ms())
        except Exception:
            logger.exception("session close not stored", extra={"session_id": self.session_id})

    @property
    def outstanding(self) -> int:
        return self._orderer.outstanding
