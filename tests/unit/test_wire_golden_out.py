"""Golden JSON for every outbound PROTOCOL.md message built by
services/gateway/wire/out.py: exact equality, optional fields without a value omitted (never
null), the cut flags only when true; and the utterance -> job_assign round trip."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from services.gateway.wire import client_in, out

GOLDEN = Path(__file__).parent / "golden"
NODE_IN = json.loads((GOLDEN / "node_in.json").read_text())
CLIENT_IN = json.loads((GOLDEN / "client_in.json").read_text())
OUT = json.loads((GOLDEN / "out.json").read_text())
NOW = 1700000000900


def wire(message: Any) -> Any:
    """What actually goes on the socket, read back."""
    return orjson.loads(out.encode(message)) if isinstance(message, dict) else message


# --- outbound --------------------------------------------------------------------------------

FULL_SPEC = job_pb2.JobSpec(
    session_id="sess-1",
    utterance_index=5,
    src_lang="zh",
    tgt_lang="en",
    pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_semantic=True, use_tone=True),
    audio=b"\x03\x00abc",
    audio_format="opus",
    sample_rate=16000,
    dialect="yue",
    features_json=b'{"emotion_detection":true}',
    mode=job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO,
    lang_a="zh",
    lang_b="en",
    auto_langs=["zh", "en"],
    enable_streaming_asr=True,
    partial_update_interval_ms=500,
    group_id="g-1",
    part_index=1,
    context_text="earlier words",
    padding_ms=200,
    turn_id="turn-1",
    is_manual_cut=True,
    is_timeout_triggered=True,
    is_max_duration_triggered=True,
    tenant_id="acme",
    client_trace_id="internal-only",
)
MINIMAL_SPEC = job_pb2.JobSpec(
    session_id="sess-1",
    src_lang="zh",
    tgt_lang="en",
    audio=b"\x03\x00abc",
    pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=True),
    audio_format="opus",
    sample_rate=16000,
)
FULL_RESULT = job_pb2.JobResult(
    success=True,
    text_asr="你好",
    text_translated="hello",
    tts_audio=b"\x00\x01\x02",
    tts_format="opus",
    extra_json=orjson.dumps(NODE_IN["job_result"]["extra"]),
    processing_time_ms=480,
    group_id="g-1",
    part_index=0,
    node_completed_at_ms=1,
    asr_quality_level="good",
    reason_codes=["LOW_SNR"],
    quality_score=0.93,
    rerun_count=1,
    segments_meta=job_pb2.SegmentsMeta(count=2, max_gap=0.4, avg_duration=1.5),
)


JOB = job_pb2.JobRef(job_id="job-1", session_id="sess-1", utterance_index=3, trace_id="trace-1")


def outcome(**kwargs: Any) -> list[dict[str, Any]]:
    return out.outcome_messages("sess-1", JOB, gw_pb.UtteranceOutcome(**kwargs), NOW)


def assignment(spec: job_pb2.JobSpec, attempt: int = 1) -> job_pb2.JobAssignment:
    return job_pb2.JobAssignment(job_id="job-1", attempt_id=attempt, trace_id="trace-1", spec=spec)


def empty(reason: str) -> job_pb2.JobResult:
    return job_pb2.JobResult(success=True, extra_json=orjson.dumps({"reason": reason}))


UI_FULL = gw_pb.UiEvent(
    event="NMT_DONE",
    elapsed_ms=0,
    error_code="NMT_TIMEOUT",
    hint="retrying",
)
BUILT = {
    "node_register_ack": lambda: out.node_register_ack("node-1", "registered", "registering"),
    "node_register_ack_no_status": lambda: out.node_register_ack("node-1", "registered", None),
    "job_assign_minimal": lambda: out.job_assign(assignment(MINIMAL_SPEC)),
    "job_assign_full": lambda: out.job_assign(assignment(FULL_SPEC, attempt=2)),
    "job_cancel": lambda: out.job_cancel(
        gw_pb.JobCancel(job_id="job-1", trace_id="trace-1", reason="session closed")
    ),
    "job_cancel_minimal": lambda: out.job_cancel(gw_pb.JobCancel(job_id="job-1")),
    "node_control": lambda: out.node_control("drain", "maintenance"),
    "node_control_minimal": lambda: out.node_control("shutdown"),
    "error": lambda: out.error("NO_AVAILABLE_NODE", "no node for zh->en", {"pair": "zh:en"}),
    "error_minimal": lambda: out.error("INVALID_MESSAGE", "malformed JSON"),
    "session_init_ack": lambda: out.session_init_ack("sess-1", "trace-1", "opus"),
    "translation_result": lambda: outcome(result=FULL_RESULT)[0],
    "translation_result_minimal": lambda: outcome(result=job_pb2.JobResult(success=True))[0],
    "missing_result_no_text_assigned": lambda: outcome(result=empty("NO_TEXT_ASSIGNED"))[0],
    "missing_result_asr_empty": lambda: outcome(result=empty("ASR_EMPTY"))[0],
    "failed_result": lambda: outcome(
        result=job_pb2.JobResult(
            success=False, error=job_pb2.JobError(code="NODE_OVERLOADED", message="too busy")
        )
    ),
    "failed_result_without_error": lambda: outcome(result=job_pb2.JobResult(success=False)),
    "outcome_error": lambda: outcome(
        error=job_pb2.JobError(code="NO_AVAILABLE_NODE", message="no node for zh->en")
    ),
    "asr_partial": lambda: out.asr_partial("sess-1", JOB, gw_pb.AsrPartial(text="ni hao")),
    "ui_event": lambda: out.ui_event_message("sess-1", JOB, gw_pb.UiEvent(event="DISPATCHED")),
    "ui_event_full": lambda: out.ui_event_message("sess-1", JOB, UI_FULL),
    "server_heartbeat": lambda: out.server_heartbeat("sess-1", NOW),
    "session_close_ack": lambda: out.session_close_ack("sess-1"),
}


def test_every_golden_outbound_message_has_a_builder():
    assert set(BUILT) == set(OUT)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_outbound_message_equals_golden_json(name):
    built = BUILT[name]()
    messages = built if isinstance(built, list) else [built]
    assert [wire(m) for m in messages] == (OUT[name] if isinstance(built, list) else [OUT[name]])


def contains_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(contains_null(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_null(v) for v in value)
    return False


@pytest.mark.parametrize("name", sorted(BUILT))
def test_outbound_messages_never_carry_null(name):
    assert not contains_null(BUILT[name]())


def test_cut_flags_are_omitted_when_false_and_present_only_when_true():
    spec = job_pb2.JobSpec()
    spec.CopyFrom(MINIMAL_SPEC)
    spec.is_timeout_triggered = True
    built = out.job_assign(assignment(spec))
    assert built["is_timeout_triggered"] is True
    assert "is_manual_cut" not in built and "is_max_duration_triggered" not in built


def test_a_result_with_text_is_a_translation_result_even_with_an_empty_reason():
    result = job_pb2.JobResult(
        success=True, text_asr="hi", extra_json=orjson.dumps({"reason": "ASR_EMPTY"})
    )
    assert outcome(result=result)[0]["type"] == "translation_result"


def test_missing_result_without_a_trace_id_omits_it():
    message = gw_pb.UtteranceOutcome(result=empty("ASR_EMPTY"))
    untraced = job_pb2.JobRef(job_id="job-1", session_id="sess-1", utterance_index=3)
    assert "trace_id" not in out.outcome_messages("sess-1", untraced, message, NOW)[0]


# --- round trip ------------------------------------------------------------------------------


def test_a_client_utterance_round_trips_into_job_assign_with_the_same_audio_and_options():
    defaults = client_in.parse_session_init(CLIENT_IN["session_init"]).defaults
    msg = CLIENT_IN["utterance"]
    spec = client_in.parse_utterance(msg, defaults, 1024)
    assign = wire(out.job_assign(assignment(spec)))
    assert assign["audio"] == msg["audio"]
    assert base64.b64decode(assign["audio"]) == bytes(range(6))
    same = ["session_id", "utterance_index", "src_lang", "tgt_lang", "audio_format"]
    same += ["sample_rate", "dialect", "features", "mode", "auto_langs", "pipeline"]
    same += ["enable_streaming_asr", "partial_update_interval_ms"]
    assert {k: assign[k] for k in same} == {k: msg[k] for k in same}
    assert (assign["lang_a"], assign["lang_b"]) == ("zh", "en")  # from the session defaults
    assert assign["is_manual_cut"] is True
    assert "tenant_id" not in assign and "client_trace_id" not in assign
