"""A well-behaved client: one session, one utterance at a time, each timed from send to
its translation_result. What a heavy neighbour must not slow down or lose."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.gateway_load import open_session
from tools.fleet.metrics import LatencySummary, summarize
from tools.fleet.payload import make_audio

PACKETS = 50  # ~1 s of Opus-sized packets, ~2.6 KB


@dataclass
class GoodReport:
    sent: int = 0
    answered: int = 0  # translation_result for the utterance, with its own text
    lost: Counter[str] = field(default_factory=Counter)  # why an answer did not come
    seconds: list[float] = field(default_factory=list)

    @property
    def latency(self) -> LatencySummary:
        return summarize(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "lost": dict(self.lost),
            "latency": self.latency.as_dict(),
        }


async def utterance_round_trips(
    url: str, duration_s: float, interval_s: float, answer_timeout_s: float, tag: str
) -> GoodReport:
    """Utterances every `interval_s` (or when the last was answered, if later) for
    `duration_s`, in a fresh session."""
    report = GoodReport()
    ws = await open_session(url)
    try:
        deadline = time.perf_counter() + duration_s
        index = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await ws.send(_utterance(ws.session_id, index, tag))  # type: ignore[attr-defined]
            report.sent += 1
            try:
                outcome = await asyncio.wait_for(_answer_to(ws, index), answer_timeout_s)
            except TimeoutError:
                outcome = "timeout"
            if outcome == "ok":
                report.answered += 1
                report.seconds.append(time.perf_counter() - started)
            else:
                report.lost[outcome] += 1
            index += 1
            await asyncio.sleep(max(0.0, started + interval_s - time.perf_counter()))
    finally:
        await ws.close()
    return report


def _utterance(session_id: str, index: int, tag: str) -> str:
    audio = make_audio(tag, index, PACKETS)
    return orjson.dumps(
        {
            "type": "utterance",
            "session_id": session_id,
            "utterance_index": index,
            "manual_cut": True,
            "src_lang": "zh",
            "tgt_lang": "en",
            "audio": base64.b64encode(audio).decode(),
            "audio_format": "opus",
            "sample_rate": 16000,
        }
    ).decode()


async def _answer_to(ws: Any, index: int) -> str:
    """ "ok" for its translation_result, else the error code or the answer's kind."""
    while True:
        message = orjson.loads(await ws.recv())
        kind = message.get("type")
        if message.get("utterance_index") != index:
            continue
        if kind == "translation_result":
            return "ok"
        if kind == "error":
            return str(message.get("code"))
        if kind == "missing_result":
            return "missing_result"
