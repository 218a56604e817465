"""Messages the gateway sends, built exactly as PROTOCOL.md says: optional fields that
have no value are omitted (never null); the three cut flags only when true."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb

JsonObject = dict[str, Any]

MODE_NAMES = {
    job_pb2.TRANSLATION_MODE_ONE_WAY: "one_way",
    job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO: "two_way_auto",
}
# Node results that mean "nothing was said": the client gets missing_result.
EMPTY_RESULT_REASONS = frozenset({"NO_TEXT_ASSIGNED", "ASR_EMPTY"})


def encode(message: JsonObject) -> bytes:
    return orjson.dumps(message)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Error messages may quote what a peer sent: never echo back more than this.
MAX_ERROR_MESSAGE = 1000


def error(code: str, message: str, details: Any = None) -> JsonObject:
    out: JsonObject = {"type": "error", "code": code, "message": message[:MAX_ERROR_MESSAGE]}
    if details is not None:
        out["details"] = details
    return out


# --- to nodes ---------------------------------------------------------------------------


def node_register_ack(node_id: str, message: str, status: str | None) -> JsonObject:
    out: JsonObject = {"type": "node_register_ack", "node_id": node_id, "message": message}
    if status:
        out["status"] = status
    return out


def job_assign(assignment: job_pb2.JobAssignment) -> JsonObject:
    spec = assignment.spec
    pipeline: JsonObject = {
        "use_asr": spec.pipeline.use_asr,
        "use_nmt": spec.pipeline.use_nmt,
        "use_tts": spec.pipeline.use_tts,
    }
    if spec.pipeline.use_semantic:
        pipeline["use_semantic"] = True
    if spec.pipeline.use_tone:
        pipeline["use_tone"] = True
    out: JsonObject = {
        "type": "job_assign",
        "job_id": assignment.job_id,
        "attempt_id": assignment.attempt_id,
        "session_id": spec.session_id,
        "utterance_index": spec.utterance_index,
        "src_lang": spec.src_lang,
        "tgt_lang": spec.tgt_lang,
        "pipeline": pipeline,
        "audio": _b64(spec.audio),
        "audio_format": spec.audio_format,
        "sample_rate": spec.sample_rate,
        "trace_id": assignment.trace_id,
    }
    for name in (
        "dialect",
        "lang_a",
        "lang_b",
        "enable_streaming_asr",
        "partial_update_interval_ms",
        "group_id",
        "part_index",
        "context_text",
        "padding_ms",
        "turn_id",
    ):
        if spec.HasField(name):
            out[name] = getattr(spec, name)
    if spec.features_json:
        out["features"] = orjson.loads(spec.features_json)
    if spec.mode in MODE_NAMES:
        out["mode"] = MODE_NAMES[spec.mode]
    if spec.auto_langs:
        out["auto_langs"] = list(spec.auto_langs)
    for flag in ("is_manual_cut", "is_timeout_triggered", "is_max_duration_triggered"):
        if getattr(spec, flag):
            out[flag] = True
    return out


def job_cancel(cancel: gw_pb.JobCancel) -> JsonObject:
    out: JsonObject = {"type": "job_cancel", "job_id": cancel.job_id}
    if cancel.trace_id:
        out["trace_id"] = cancel.trace_id
    if cancel.reason:
        out["reason"] = cancel.reason
    return out


def node_control(command: str, reason: str = "") -> JsonObject:
    out: JsonObject = {"type": "node_control", "command": command}
    if reason:
        out["reason"] = reason
    return out


# --- to clients ---------------------------------------------------------------------------


def session_init_ack(session_id: str, trace_id: str, streamed_format: str) -> JsonObject:
    return {
        "type": "session_init_ack",
        "session_id": session_id,
        "message": "session created",
        "trace_id": trace_id,
        "protocol_version": "1.0",
        "use_binary_frame": False,
        "negotiated_codec": streamed_format,
        "negotiated_audio_format": streamed_format,
        "negotiated_sample_rate": 16000,
        "negotiated_channel_count": 1,
    }


def outcome_messages(
    session_id: str, job: job_pb2.JobRef, outcome: gw_pb.UtteranceOutcome, now_ms: int
) -> list[JsonObject]:
    """The client-facing answer for one utterance: a result, a missing_result or an error."""
    index, job_id, trace_id = job.utterance_index, job.job_id, job.trace_id
    if outcome.HasField("error") or not outcome.result.success:
        failure = outcome.error if outcome.HasField("error") else outcome.result.error
        code = failure.code or "INTERNAL_ERROR"
        return [
            ui_event_message(
                session_id, job, gw_pb.UiEvent(event="ERROR", is_error=True, error_code=code)
            ),
            error(
                code,
                failure.message or "the job failed",
                {"utterance_index": index, "job_id": job_id, "trace_id": trace_id},
            ),
        ]
    result = outcome.result
    extra = orjson.loads(result.extra_json) if result.extra_json else None
    reason = extra.get("reason") if isinstance(extra, dict) else None
    if reason in EMPTY_RESULT_REASONS and not result.text_asr and not result.text_translated:
        missing: JsonObject = {
            "type": "missing_result",
            "session_id": session_id,
            "utterance_index": index,
            "reason": str(reason).lower(),
            "created_at_ms": now_ms,
        }
        if trace_id:  # optional: omitted when there is none
            missing["trace_id"] = trace_id
        return [missing]
    out: JsonObject = {
        "type": "translation_result",
        "session_id": session_id,
        "utterance_index": index,
        "job_id": job_id,
        "text_asr": result.text_asr,
        "text_translated": result.text_translated,
        "tts_audio": _b64(result.tts_audio),
        "tts_format": result.tts_format,
        "trace_id": trace_id,
    }
    if extra is not None:
        out["extra"] = extra
        if isinstance(extra, dict) and isinstance(extra.get("service_timings"), dict):
            out["service_timings"] = extra["service_timings"]
    for name in ("group_id", "part_index", "asr_quality_level", "quality_score", "rerun_count"):
        if result.HasField(name):
            out[name] = getattr(result, name)
    if result.reason_codes:
        out["reason_codes"] = list(result.reason_codes)
    if result.HasField("segments_meta"):
        meta = result.segments_meta
        out["segments_meta"] = {
            "count": meta.count,
            "max_gap": meta.max_gap,
            "avg_duration": meta.avg_duration,
        }
    out["scheduler_sent_at_ms"] = now_ms
    return [out]


def asr_partial(session_id: str, job: job_pb2.JobRef, partial: gw_pb.AsrPartial) -> JsonObject:
    return {
        "type": "asr_partial",
        "session_id": session_id,
        "utterance_index": job.utterance_index,
        "job_id": job.job_id,
        "text": partial.text,
        "is_final": partial.is_final,
        "trace_id": job.trace_id,
    }


def ui_event_message(session_id: str, job: job_pb2.JobRef, event: gw_pb.UiEvent) -> JsonObject:
    out: JsonObject = {
        "type": "ui_event",
        "trace_id": job.trace_id,
        "session_id": session_id,
        "job_id": job.job_id,
        "utterance_index": job.utterance_index,
        "event": event.event,
        "status": "error" if event.is_error else "ok",
    }
    for name in ("elapsed_ms", "error_code", "hint"):
        if event.HasField(name):
            out[name] = getattr(event, name)
    return out


def server_heartbeat(session_id: str, now_ms: int) -> JsonObject:
    return {"type": "server_heartbeat", "session_id": session_id, "timestamp": now_ms}


def session_close_ack(session_id: str) -> JsonObject:
    return {"type": "session_close_ack", "session_id": session_id}


def ui_event(
    session_id: str,
    event: str,
    utterance_index: int,
    job_id: str = "",
    trace_id: str = "",
    *,
    elapsed_ms: int | None = None,
    hint: str | None = None,
) -> JsonObject:
    """A progress event the gateway raises itself (INPUT_*, ASR_*, NMT_DONE, TTS_PLAY_*)."""
    message = gw_pb.UiEvent(event=event)
    if elapsed_ms is not None:
        message.elapsed_ms = max(0, elapsed_ms)
    if hint is not None:
        message.hint = hint
    job = job_pb2.JobRef(job_id=job_id, utterance_index=utterance_index, trace_id=trace_id)
    return ui_event_message(session_id, job, message)
