"""A closed-loop client session: keeps `window` utterances awaiting answers, no more.

It sends the next utterance as soon as an answer frees a place, so the offered load
follows what the scheduler and fleet can carry ("as fast as the fleet allows").
Sending stops on `stop()` or after `max_utterances`; outstanding answers are then
awaited for at most `drain_timeout_s`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tools.fleet import payload
from tools.fleet.answers import AnswerBook, ClientReport
from tools.fleet.metrics import LatencyRecorder
from tools.fleet.wire import SESSION_PATH, decode, endpoint_url, open_ws, send_json

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 5.0
INIT_TIMEOUT_S = 10.0
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ClosedLoopConfig:
    url: str
    name: str
    src_lang: str
    tgt_lang: str
    window: int
    max_utterances: int
    drain_timeout_s: float
    packets_per_utterance: int = 10


class ClosedLoopClient:
    def __init__(self, config: ClosedLoopConfig, recorder: LatencyRecorder) -> None:
        self.config = config
        self.book = AnswerBook(config.name, config.tgt_lang, recorder)
        self._room = asyncio.Semaphore(config.window)
        self._answered = asyncio.Event()
        self._stopped = False
        self._lost = False
        self.last_answer_at: float | None = None
        self.error: str | None = None

    def stop(self) -> None:
        """Send nothing more; wakes the sender even when the window is full."""
        if not self._stopped:
            self._stopped = True
            for _ in range(self.config.window):
                self._room.release()

    async def run(self) -> ClientReport:
        url = endpoint_url(self.config.url, SESSION_PATH)
        try:
            async with open_ws(url, OPEN_TIMEOUT_S) as ws:
                await self._init(ws)
                reader = asyncio.create_task(self._read(ws))
                try:
                    await self._send(ws)
                    await self._drain(reader)
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, RuntimeError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s", self.config.name, self.error)
        report = self.book.report()
        report.init_error = self.error if not self.book.session_id else None
        report.connection_lost = self._lost or (
            self.error is not None and bool(self.book.session_id)
        )
        return report

    async def _init(self, ws: ClientConnection) -> None:
        cfg = self.config
        init = {
            "type": "session_init",
            "client_version": "bench/1.0",
            "platform": "web",
            "src_lang": cfg.src_lang,
            "tgt_lang": cfg.tgt_lang,
        }
        await send_json(ws, init)
        async with asyncio.timeout(INIT_TIMEOUT_S):
            async for frame in ws:
                message = decode(frame)
                if message is None:
                    continue
                if message["type"] == "session_init_ack":
                    self.book.session_id = str(message.get("session_id") or "")
                    if not self.book.session_id:
                        raise RuntimeError("session_init_ack without session_id")
                    return
                if message["type"] == "error":
                    raise RuntimeError(f"session_init refused: {message.get('code')}")
        raise RuntimeError("closed before session_init_ack")

    async def _send(self, ws: ClientConnection) -> None:
        cfg = self.config
        for index in range(cfg.max_utterances):
            await self._room.acquire()
            if self._stopped:
                return
            audio = payload.make_audio(cfg.name, index, cfg.packets_per_utterance)
            message = {
                "type": "utterance",
                "session_id": self.book.session_id,
                "utterance_index": index,
                "manual_cut": True,
                "src_lang": cfg.src_lang,
                "tgt_lang": cfg.tgt_lang,
                "audio": base64.b64encode(audio).decode(),
                "audio_format": "opus",
                "sample_rate": SAMPLE_RATE,
            }
            self.book.sent(index, audio, time.perf_counter())
            await send_json(ws, message)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                message = decode(frame)
                if message is None:
                    continue
                at = time.perf_counter()
                if self.book.on_message(message, at) is not None:
                    self.last_answer_at = at
                    self._room.release()
                    self._answered.set()
        except ConnectionClosed:
            self._lost = True
        finally:
            self.stop()  # the connection is gone: unblock the sender
            self._answered.set()

    async def _drain(self, reader: asyncio.Task[None]) -> None:
        deadline = time.perf_counter() + self.config.drain_timeout_s
        while self.book.outstanding and not reader.done():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                log.warning("%s: %d answers missing", self.config.name, self.book.outstanding)
                return
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), remaining)
