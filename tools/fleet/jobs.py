"""A fake node's jobs: parsing job_assign and building the job_result bodies."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass

from tools.fleet import payload
from tools.fleet.wire import JsonObject, now_ms

PROCESSING_ERROR = "PROCESSING_ERROR"
NODE_OVERLOADED = "NODE_OVERLOADED"


@dataclass
class Job:
    job_id: str
    attempt_id: int
    session_id: str
    utterance_index: int
    task: asyncio.Task[None] | None = None


def parse_assign(message: JsonObject) -> Job | None:
    """The job a job_assign names, or None when a field the node needs is missing."""
    job_id, attempt_id = message.get("job_id"), message.get("attempt_id")
    session_id, index = message.get("session_id"), message.get("utterance_index")
    texts_ok = all(isinstance(message.get(k), str) for k in ("audio", "trace_id", "tgt_lang"))
    if not (isinstance(job_id, str) and isinstance(session_id, str) and texts_ok):
        return None
    if not (isinstance(attempt_id, int) and isinstance(index, int)):
        return None
    if isinstance(attempt_id, bool) or isinstance(index, bool):
        return None
    return Job(job_id, attempt_id, session_id, index)


def decode_audio(assign: JsonObject) -> bytes | None:
    try:
        return base64.b64decode(str(assign.get("audio", "")), validate=True)
    except binascii.Error:
        return None


def _base(assign: JsonObject, node_id: str | None, success: bool) -> JsonObject:
    return {
        "type": "job_result",
        "job_id": assign.get("job_id"),
        "attempt_id": assign.get("attempt_id"),
        "node_id": node_id,
        "session_id": assign.get("session_id"),
        "utterance_index": assign.get("utterance_index"),
        "success": success,
        "trace_id": assign.get("trace_id"),
    }


def failure_result(assign: JsonObject, node_id: str | None, code: str, text: str) -> JsonObject:
    result = _base(assign, node_id, success=False)
    result["error"] = {"code": code, "message": text}
    result["node_completed_at_ms"] = now_ms()
    return result


def empty_result(assign: JsonObject, node_id: str | None, elapsed_ms: int) -> JsonObject:
    """A job that had nothing to say (the protocol's ASR_EMPTY acknowledgement)."""
    result = _base(assign, node_id, success=True)
    result.update(
        text_asr="",
        text_translated="",
        tts_audio="",
        tts_format="pcm16",
        extra={"reason": "ASR_EMPTY"},
        processing_time_ms=elapsed_ms,
        node_completed_at_ms=now_ms(),
    )
    return result


def target_language(assign: JsonObject, audio: bytes) -> tuple[str, str | None]:
    """The language to translate into, and the one detected (two-way jobs only).

    A two-way job (src_lang "auto", PROTOCOL.md) names the conversation's two languages;
    the node detects which one was spoken and translates into the other."""
    tgt = str(assign.get("tgt_lang"))
    lang_a, lang_b = assign.get("lang_a"), assign.get("lang_b")
    two_way = assign.get("src_lang") == "auto" or assign.get("mode") == "two_way_auto"
    if not (two_way and isinstance(lang_a, str) and isinstance(lang_b, str)):
        return tgt, None
    spoken = payload.spoken_language(audio) or lang_a
    return (lang_b if spoken == lang_a else lang_a), spoken


def success_result(
    assign: JsonObject, node_id: str | None, audio: bytes, elapsed_ms: int, tts_bytes: int
) -> JsonObject:
    """Texts derived from the audio received, so the client can check it got its own back."""
    asr = payload.asr_text_for(audio)
    tgt, spoken = target_language(assign, audio)
    third = elapsed_ms // 3
    timings = {"asr_ms": third, "nmt_ms": third, "tts_ms": elapsed_ms - 2 * third}
    extra: JsonObject = {"service_timings": {**timings, "total_ms": elapsed_ms}}
    if spoken is not None:
        extra["language_probability"] = 0.99
        extra["language_probabilities"] = {spoken: 0.99}
    result = _base(assign, node_id, success=True)
    result.update(
        text_asr=asr,
        text_translated=payload.translated_text_from_asr(asr, tgt),
        tts_audio=fake_tts(asr, tts_bytes),
        tts_format="pcm16",
        extra=extra,
        processing_time_ms=elapsed_ms,
        node_completed_at_ms=now_ms(),
    )
    return result


def fake_tts(seed: str, size: int) -> str:
    """`size` deterministic bytes as base64; "" for 0."""
    if size <= 0:
        return ""
    block = payload.make_packet(seed, 0, 0)
    return base64.b64encode((block * (size // len(block) + 1))[:size]).decode()
