"""One client's WebSocket (/ws/session): the session's state and what it does per message.

Streamed audio and its cutting live in session_stream.py, the jobs in session_jobs.py,
everything the client hears back in session_answers.py, and the utterance groups its
results carry in session_groups.py / groups.py.

- One index sequence: `utterance` messages bring their own index, cuts of streamed
  audio take the next one; a cut always takes an index above every accepted one.
- `session_close` cuts what is buffered, and its `session_close_ack` goes out after the
  answers to everything accepted (the last cut's included). A socket that just closes
  has gone: its buffered audio is dropped (logged at INFO with its size).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from websockets.asyncio.connection import Connection

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.ids import new_id, new_trace_id
from lingua_common.limits import preview
from services.gateway.auth import ANONYMOUS, Identity
from services.gateway.context import GatewayContext
from services.gateway.cutting import Utterance
from services.gateway.groups import GroupsUnavailableError, Playback
from services.gateway.outbox import Outbox
from services.gateway.session_answers import Answers
from services.gateway.session_groups import GroupStamper
from services.gateway.session_jobs import JobSubmitter
from services.gateway.session_stream import AudioStream
from services.gateway.wire import client_in, out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)

DRAINING_MESSAGE = "the gateway is restarting; reconnect to continue"


class SessionLink:
    def __init__(self, ws: Connection, ctx: GatewayContext, identity: Identity = ANONYMOUS) -> None:
        self.ws = ws
        self.ctx = ctx
        self.identity = identity
        limits = ctx.settings.limits
        self.outbox = Outbox(ws, limits.send_queue, limits.send_queue_bytes)
        self.session_id = ""
        self._defaults = job_pb2.JobSpec()
        self._pair = ("", "")
        self._closing = ""  # why new input is refused ("" while it is accepted)
        # session_close came: its ack waits for the answers still owed.
        self._close_ack_owed = False
        # Replaced at session_init; until then nothing can reach them.
        self._stamper: GroupStamper | None = None
        self._answers = Answers("", ctx.settings.answer_timeout_ms, self.outbox.send)
        self._stream = AudioStream(ctx.settings.cutting, "", "", self.outbox.send)
        self._jobs = JobSubmitter(ctx, self._answers, self.outbox.send)

    # --- inbound ------------------------------------------------------------------------

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "session_init":
            await self._init(client_in.parse_session_init(msg))
            return
        if not self.session_id:
            raise WireError(f"'{kind}' before session_init: initialise the session first")
        limits = self.ctx.settings.limits
        now = self.ctx.clock.now_ms()
        if kind == "utterance":
            spec = client_in.parse_utterance(msg, self._defaults, limits.max_audio_bytes)
            if self._check_session(spec.session_id) and self._accepting():
                self._accept(spec)
        elif kind == "audio_chunk":
            chunk = client_in.parse_audio_chunk(msg, limits.max_audio_bytes)
            if self._check_session(chunk.session_id) and self._accepting():
                self._accept_cut(self._stream.add(chunk, now))
                self._mark_activity()
        elif kind == "client_heartbeat":
            if self._check_session(client_in.parse_client_heartbeat(msg)):
                self.outbox.send(out.server_heartbeat(self.session_id, now))
        elif kind == "session_close":
            if self._check_session(client_in.parse_session_close(msg)):
                self._close_requested()
        elif kind in ("tts_started", "tts_play_ended"):
            playback = client_in.parse_tts_playback(msg, ended=kind == "tts_play_ended")
            if self._check_session(playback.session_id):
                if playback.ended:
                    self._stream.playback_ended(now)
                else:
                    self._stream.playback_started(now)
                await self._record_playback(playback, now)
                self._answers.playback(playback.trace_id, playback.ended)
                self._mark_activity()
        else:
            raise WireError(f"unknown message type {preview(str(kind))} on /ws/session")

    def _check_session(self, session_id: str) -> bool:
        if session_id == self.session_id:
            return True
        self.outbox.send(
            out.error(
                "INVALID_SESSION",
                f"session_id {preview(session_id)} is not this connection's session",
            )
        )
        return False

    def _accepting(self) -> bool:
        if self._closing:
            self.outbox.send(out.error("SESSION_CLOSED", self._closing))
            return False
        return True

    async def _init(self, init: client_in.SessionInit) -> None:
        if self.session_id:
            raise WireError("session_init may be sent once per connection")
        if self._closing:
            self.outbox.send(out.error("SESSION_CLOSED", self._closing))
            return
        tenant = init.tenant_id
        if self.identity.tenant:
            if tenant and tenant != self.identity.tenant:
                self.outbox.send(
                    out.error(
                        "UNAUTHENTICATED", f"tenant_id {preview(tenant)} is not this API key's"
                    )
                )
                return
            tenant = self.identity.tenant
        session_id = new_id("sess")
        try:
            await self.ctx.store.open_session(
                session_id,
                init.src_lang,
                init.tgt_lang,
                tenant,
                self.ctx.clock.now_ms(),
                self.ctx.settings.session_ttl_ms,
            )
        except Exception:
            logger.exception("session state not stored")
            self.outbox.send(
                out.error("SCHEDULER_DEPENDENCY_DOWN", "session state store unavailable; retry")
            )
            return
        trace_id = new_trace_id()
        self.session_id = session_id
        self._defaults = init.defaults
        self._defaults.session_id = session_id
        self._defaults.tenant_id = tenant
        self._pair = (init.src_lang, init.tgt_lang)
        send = self.outbox.send
        # Answers leave through the stamper, which puts each result in its group.
        self._stamper = GroupStamper(
            self.ctx.groups,
            session_id,
            self.ctx.clock,
            send,
            limit=self.ctx.settings.limits.send_queue,
        )
        ordered = self._stamper.send
        self._answers = Answers(session_id, self.ctx.settings.answer_timeout_ms, ordered)
        self._stream = AudioStream(self.ctx.settings.cutting, session_id, trace_id, send)
        self._jobs = JobSubmitter(self.ctx, self._answers, ordered, prepare=self._group_hint)
        self.ctx.sessions[session_id] = self
        self.outbox.send(out.session_init_ack(session_id, trace_id, "opus"))

    # --- utterances -------------------------------------------------------------------------

    def _accept_cut(self, cut: Utterance | None) -> None:
        if cut is not None:
            self._accept(self._stream.job_spec(cut, self._defaults))

    def _accept(self, spec: job_pb2.JobSpec) -> None:
        index = spec.utterance_index
        if self._answers.outstanding >= self.ctx.settings.limits.max_outstanding_per_session:
            self.outbox.send(
                out.error("RATE_LIMITED", f"too many utterances awaiting answers; {index} refused")
            )
            return
        if not self._answers.expect(index, self.ctx.clock.now_ms()):
            self.outbox.send(
                out.error("INVALID_MESSAGE", f"utterance_index {index} was already accepted")
            )
            return
        self._stream.index_taken(index)  # the next cut goes above it
        pair = (spec.src_lang, spec.tgt_lang)
        pair_changed, self._pair = pair != self._pair, pair
        self._mark_activity()
        self._jobs.submit(spec, pair_changed)

    def resend_unanswered(self) -> int:
        """Redis lost its data: a job for every utterance still unanswered, again (no
        Redis on the way: the links carry them to a dispatcher)."""
        if not self.session_id or self.outbox.closed:
            return 0
        return self._jobs.resend_unanswered()

    async def rewrite_state(self) -> None:
        """Redis lost its data: the session's state and its open group, written back."""
        if not self.session_id or self.outbox.closed:
            return
        await self.ctx.store.open_session(
            self.session_id,
            self._pair[0],
            self._pair[1],
            self._defaults.tenant_id,
            self.ctx.clock.now_ms(),
            self.ctx.settings.session_ttl_ms,
        )
        group = self._stamper.mirror.open_group() if self._stamper is not None else None
        if group is not None:
            # Unreachable: the next result opens a group of its own.
            with contextlib.suppress(GroupsUnavailableError):
                await self.ctx.groups.restore(self.session_id, group)

    # --- outbound (also called by the gRPC servicer) -------------------------------------------

    def deliver(self, delivery: gw_pb.SessionDelivery) -> bool:
        """Something about one of this session's jobs: its answer (in utterance order),
        an ASR partial or a progress event. False when the socket is closed."""
        if self.outbox.closed:
            return False
        which = delivery.WhichOneof("message")
        if which == "outcome":
            self._answers.outcome(delivery.job, delivery.outcome, self.ctx.clock.now_ms())
            self._ack_close_if_answered()
        elif which == "asr_partial":
            self._answers.partial(delivery.job, delivery.asr_partial)
        elif which == "ui_event":
            self._answers.event(delivery.job, delivery.ui_event)
        return not self.outbox.closed

    # --- time ------------------------------------------------------------------------------

    def _mark_activity(self) -> None:
        self.ctx.active_sessions.add(self)

    def tick(self, now_ms: int) -> None:
        """Pause cuts and answer timeouts; called by the replica's ticker."""
        self._accept_cut(self._stream.poll(now_ms))
        self._answers.expire(now_ms)
        self._ack_close_if_answered()
        if not self._stream.has_audio and not self._answers.outstanding:
            self.ctx.active_sessions.discard(self)

    # --- groups ------------------------------------------------------------------------------

    def _group_hint(self, spec: job_pb2.JobSpec) -> None:
        """A job cut while the session's group is open carries it (a hint for the node)."""
        if self._stamper is None:
            return
        hint = self._stamper.mirror.hint(self.ctx.clock.now_ms())
        if hint is not None:
            spec.group_id, spec.part_index = hint.group_id, hint.part_index
            if hint.context_text:
                spec.context_text = hint.context_text

    async def _record_playback(self, playback: client_in.TtsPlayback, now_ms: int) -> None:
        what = Playback.ENDED if playback.ended else Playback.STARTED
        if self._stamper is not None:
            self._stamper.mirror.played(playback.group_id, what, now_ms)
        try:
            # Bounded (groups.py): this socket's next messages (its audio) wait behind it.
            await self.ctx.groups.playback(self.session_id, playback.group_id, what, now_ms)
        except GroupsUnavailableError as error:
            logger.warning("playback not recorded: %s", error, extra=self._log_ids())

    def _log_ids(self) -> dict[str, str]:
        return {"session_id": self.session_id}

    # --- closing ------------------------------------------------------------------------------

    def _close_requested(self) -> None:
        """What is buffered becomes a last utterance; the ack follows every answer owed."""
        self._accept_cut(self._stream.close())
        self._closing = "the session was closed"
        self._close_ack_owed = True
        self._ack_close_if_answered()

    def _ack_close_if_answered(self) -> None:
        if self._close_ack_owed and not self._answers.outstanding:
            self._close_ack_owed = False
            # Behind the answers (the stamper keeps their order), never ahead of them.
            self._send_ordered(out.session_close_ack(self.session_id))

    def _send_ordered(self, message: dict[str, Any]) -> None:
        if self._stamper is not None:
            self._stamper.send(message)
        else:
            self.outbox.send(message)

    def begin_drain(self) -> None:
        """The replica is stopping: cut what is buffered, accept nothing new."""
        if not self._closing:
            self._accept_cut(self._stream.close())
        self._closing = DRAINING_MESSAGE

    def give_up(self) -> None:
        """Out of drain time: every unanswered utterance gets an error of its own."""
        self._answers.give_up("SESSION_CLOSED", DRAINING_MESSAGE)
        self._ack_close_if_answered()

    async def flush(self, timeout_s: float) -> None:
        """Let what is queued go out (results being put in their groups first), bounded."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self._stamper is not None:
            await self._stamper.wait_idle(timeout_s)
        await self.outbox.drain(max(0.1, deadline - loop.time()))

    async def closed(self) -> None:
        """The socket is gone. Jobs already accepted still run; their answers have nowhere to go."""
        self.ctx.active_sessions.discard(self)
        if self._stamper is not None:
            await self._stamper.close()
        await self.outbox.close()
        if not self.session_id:
            return
        if self.ctx.sessions.get(self.session_id) is self:
            del self.ctx.sessions[self.session_id]
        dropped = self._stream.buffered_bytes
        if dropped:
            logger.info(
                "client left with audio buffered",
                extra={"session_id": self.session_id, "bytes": dropped},
            )
        try:
            await self.ctx.store.close_session(self.session_id, self.ctx.clock.now_ms())
            await self.ctx.groups.forget(self.session_id)
        except Exception:
            logger.exception("session close not stored", extra={"session_id": self.session_id})

    @property
    def outstanding(self) -> int:
        """Answers still owed, and answers not yet out (being put in their group)."""
        queued = self._stamper.queued if self._stamper is not None else 0
        return self._answers.outstanding + queued
