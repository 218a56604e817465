"""A fake web client: opens a session, sends utterances, checks what comes back.

With `two_way` it behaves as the network's web client in its default (two-way) mode:
`session_init {src_lang: "auto", mode: "two_way_auto", lang_a, lang_b}`, speakers
taking turns in the two languages, and each result's TTS "played": `tts_started`, then
`tts_play_ended` `playback_s` later, both naming the result's `group_id` (the real client
reports nothing for a result without one).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from tools.fleet import payload
from tools.fleet.answers import Answer, AnswerBook, ClientReport
from tools.fleet.metrics import LatencyRecorder
from tools.fleet.schema import ViolationLog
from tools.fleet.wire import (
    SESSION_PATH,
    JsonObject,
    decode,
    endpoint_url,
    now_ms,
    open_ws,
    send_json,
)

log = logging.getLogger(__name__)

Mode = Literal["utterance", "stream"]
CLIENT_VERSION = "fleet-sim/1.0"
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ClientConfig:
    url: str  # gateway base (ws://host:port) or the full /ws/session URL
    src_lang: str = "zh"
    tgt_lang: str = "en"
    name: str = "client"  # also seeds the audio, so every client sends different audio
    mode: Mode = "utterance"
    utterances: int = 10
    interval_s: float = 1.0  # start-to-start time between utterances
    packets_per_utterance: int = 10
    chunk_packets: int = 3  # Opus frames per audio_chunk in stream mode
    chunk_interval_s: float = 0.05
    heartbeat_interval_s: float = 30.0
    answer_timeout_s: float = 15.0  # bounded wait for outstanding answers at the end
    open_timeout_s: float = 5.0
    init_timeout_s: float = 10.0
    api_key: str | None = None
    tenant_id: str | None = None
    send_session_close: bool = False  # the real web client just closes the socket
    # (lang_a, lang_b): a two-way session; utterance k is spoken in lang_a, lang_b, ...
    two_way: tuple[str, str] | None = None
    playback_s: float = 0.3  # how long each result's TTS "plays" (tts_started -> ended)


class _InitFailed(Exception):
    pass


class FakeClient:
    def __init__(
        self,
        config: ClientConfig,
        recorder: LatencyRecorder | None = None,
        on_result: Callable[[Answer], None] | None = None,
    ) -> None:
        self.config = config
        self.book = AnswerBook(config.name, config.tgt_lang, recorder, on_result)
        self._url = endpoint_url(config.url, SESSION_PATH, {"api_key": config.api_key})
        self._stop_sending = asyncio.Event()
        self._abort = asyncio.Event()
        self._answers_changed = asyncio.Event()
        self._close_acked = asyncio.Event()
        self._seq = 0
        self._violations = ViolationLog("client_in")
        self._init_error: str | None = None
        self._connection_lost = False
        self._playbacks: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @property
    def session_id(self) -> str:
        return self.book.session_id

    def stop_sending(self) -> None:
        """Send no further utterance; outstanding answers are still awaited (bounded)."""
        self._stop_sending.set()

    def abort(self) -> None:
        """Send nothing more and stop waiting for answers: the run ends now."""
        self._stop_sending.set()
        self._abort.set()

    async def run(self) -> ClientReport:
        try:
            async with open_ws(self._url, self.config.open_timeout_s) as ws:
                await self._init(ws)
                await self._session(ws)
        except InvalidURI:
            self._init_error = "INVALID_URL"
        except _InitFailed as exc:
            self._init_error = str(exc)
            log.warning("%s: session_init failed: %s", self.config.name, exc)
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            self._init_error = f"CONNECT_FAILED: {type(exc).__name__}: {exc}"
            log.warning("%s: cannot connect: %s", self.config.name, self._init_error)
        except ConnectionClosed as exc:
            if not self.session_id:
                self._init_error = f"CLOSED: {exc}"
            self._connection_lost = True
        report = self.book.report()
        report.init_error = self._init_error
        report.connection_lost = self._connection_lost
        report.protocol_violations = self._violations.count
        report.violation_samples = list(self._violations.samples)
        return report

    def _decode(self, frame: str | bytes) -> JsonObject | None:
        message = decode(frame)
        problems = self._violations.observe(message) if message is not None else []
        if problems:
            log.warning("%s: off-protocol message: %s", self.config.name, "; ".join(problems))
        return message

    async def _init(self, ws: ClientConnection) -> None:
        cfg = self.config
        init: JsonObject = {
            "type": "session_init",
            "client_version": CLIENT_VERSION,
            "platform": "web",
            "src_lang": cfg.src_lang,
            "tgt_lang": cfg.tgt_lang,
            **self._mode_fields(),
        }
        if cfg.tenant_id:
            init["tenant_id"] = cfg.tenant_id
        await send_json(ws, init)
        try:
            async with asyncio.timeout(cfg.init_timeout_s):
                async for frame in ws:
                    message = self._decode(frame)
                    if message is None:
                        continue
                    if message["type"] == "session_init_ack":
                        session_id = message.get("session_id")
                        if not isinstance(session_id, str) or not session_id:
                            raise _InitFailed("INVALID_MESSAGE: ack without session_id")
                        self.book.session_id = session_id
                        log.info("%s: session %s", cfg.name, session_id)
                        return
                    if message["type"] == "error":
                        raise _InitFailed(f"{message.get('code')}: {message.get('message')}")
        except TimeoutError as exc:
            raise _InitFailed("TIMEOUT: no session_init_ack") from exc
        raise _InitFailed("CLOSED: no session_init_ack")

    def _mode_fields(self) -> JsonObject:
        """What a two-way session's session_init and utterances say (src_lang "auto")."""
        if self.config.two_way is None:
            return {}
        lang_a, lang_b = self.config.two_way
        return {
            "src_lang": "auto",
            "tgt_lang": lang_b,
            "mode": "two_way_auto",
            "lang_a": lang_a,
            "lang_b": lang_b,
            "auto_langs": [lang_a, lang_b],
        }

    def _spoken(self, index: int) -> tuple[str | None, str]:
        """The language utterance `index` is spoken in (None: one-way) and its target."""
        if self.config.two_way is None:
            return None, self.config.tgt_lang
        lang_a, lang_b = self.config.two_way
        return (lang_a, lang_b) if index % 2 == 0 else (lang_b, lang_a)

    async def _session(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._read_loop(ws))
        heartbeat = asyncio.create_task(self._heartbeat_loop(ws))
        player = asyncio.create_task(self._playback_loop(ws))
        try:
            await self._send_all(ws, reader)
            await self._wait_answers(reader)
            await self._wait_playbacks(reader)
            if self.config.send_session_close and not reader.done():
                close = {"type": "session_close", "session_id": self.session_id, "reason": "done"}
                await send_json(ws, close)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._close_acked.wait(), 5.0)
            if reader.done() and not self._close_acked.is_set():
                self._connection_lost = True
        except ConnectionClosed:
            self._connection_lost = True
        finally:
            for task in (reader, heartbeat, player):
                task.cancel()
            await asyncio.gather(reader, heartbeat, player, return_exceptions=True)

    async def _send_all(self, ws: ClientConnection, reader: asyncio.Task[None]) -> None:
        cfg = self.config
        start = time.perf_counter()
        for index in range(cfg.utterances):
            # Drift-free schedule: utterance k starts at start + k * interval.
            delay = start + index * cfg.interval_s - time.perf_counter()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_sending.wait(), delay)
            if self._stop_sending.is_set() or reader.done():
                return
            spoken, tgt = self._spoken(index)
            if spoken is None:
                audio = payload.make_audio(cfg.name, index, cfg.packets_per_utterance)
            else:
                audio = payload.make_spoken_audio(
                    cfg.name, index, cfg.packets_per_utterance, spoken
                )
            if cfg.mode == "stream":
                await self._stream(ws, index, audio, tgt)
            else:
                await self._utterance(ws, index, audio, tgt)

    async def _utterance(self, ws: ClientConnection, index: int, audio: bytes, tgt: str) -> None:
        cfg = self.config
        message: JsonObject = {
            "type": "utterance",
            "session_id": self.session_id,
            "utterance_index": index,
            "manual_cut": True,
            "src_lang": cfg.src_lang,
            "tgt_lang": cfg.tgt_lang,
            "audio": base64.b64encode(audio).decode(),
            "audio_format": "opus",
            "sample_rate": SAMPLE_RATE,
            **self._mode_fields(),
        }
        self.book.sent(index, audio, time.perf_counter(), tgt)
        await send_json(ws, message)

    async def _stream(self, ws: ClientConnection, index: int, audio: bytes, tgt: str) -> None:
        for chunk in payload.split_frames(audio, self.config.chunk_packets):
            await self._chunk(ws, base64.b64encode(chunk).decode(), is_final=False)
            await asyncio.sleep(self.config.chunk_interval_s)
        # The server numbers the utterances it cuts; with manual cuts only, the k-th cut is k.
        self.book.sent(index, audio, time.perf_counter(), tgt)
        await self._chunk(ws, "", is_final=True)

    async def _chunk(self, ws: ClientConnection, data: str, is_final: bool) -> None:
        message: JsonObject = {
            "type": "audio_chunk",
            "session_id": self.session_id,
            "seq": self._seq,
            "is_final": is_final,
            "payload": data,
            "client_timestamp_ms": now_ms(),
        }
        self._seq += 1
        await send_json(ws, message)

    async def _wait_answers(self, reader: asyncio.Task[None]) -> None:
        deadline = time.perf_counter() + self.config.answer_timeout_s
        while self.book.outstanding and not reader.done() and not self._abort.is_set():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                log.warning("%s: %d answers missing", self.config.name, self.book.outstanding)
                return
            self._answers_changed.clear()
            waits = {asyncio.create_task(e.wait()) for e in (self._answers_changed, self._abort)}
            await asyncio.wait(
                {*waits, reader}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for wait in waits:
                wait.cancel()

    async def _read_loop(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                message = self._decode(frame)
                if message is None:
                    continue
                if message["type"] == "session_close_ack":
                    self._close_acked.set()
                    return
                if self.book.on_message(message, time.perf_counter()) is not None:
                    self._answers_changed.set()
                group_id = message.get("group_id")
                if message["type"] == "translation_result" and isinstance(group_id, str):
                    self._playbacks.put_nowait((group_id, str(message.get("trace_id", ""))))

    async def _wait_playbacks(self, reader: asyncio.Task[None]) -> None:
        """Let the results' TTS finish playing (and be reported) before leaving, bounded."""
        if self._abort.is_set() or reader.done():
            return
        bound_s = self.config.playback_s * (self._playbacks.qsize() + 1) + 5.0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._playbacks.join(), bound_s)

    async def _playback_loop(self, ws: ClientConnection) -> None:
        """Play each result's TTS in turn and report it, as the web client does."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                group_id, trace_id = await self._playbacks.get()
                report = {"session_id": self.session_id, "trace_id": trace_id, "group_id": group_id}
                await send_json(ws, {"type": "tts_started", **report, "ts_start_ms": now_ms()})
                await asyncio.sleep(self.config.playback_s)
                await send_json(ws, {"type": "tts_play_ended", **report, "ts_end_ms": now_ms()})
                self.book.played(group_id)
                self._playbacks.task_done()

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(self.config.heartbeat_interval_s)
                beat = {
                    "type": "client_heartbeat",
                    "session_id": self.session_id,
                    "timestamp": now_ms(),
                }
                await send_json(ws, beat)
