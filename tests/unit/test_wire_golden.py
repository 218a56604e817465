"""Golden JSON for every PROTOCOL.md message type: inbound messages parse into the expected
values (services/gateway/wire/node_in.py, client_in.py); outbound messages built by
services/gateway/wire/out.py equal golden JSON exactly. Malformed input: test_wire_errors.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from lingua.common.v1 import job_pb2, node_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from services.gateway.wire import client_in, node_in, out

GOLDEN = Path(__file__).parent / "golden"
NODE_IN = json.loads((GOLDEN / "node_in.json").read_text())
CLIENT_IN = json.loads((GOLDEN / "client_in.json").read_text())
OUT = json.loads((GOLDEN / "out.json").read_text())
NOW = 1700000000900


def wire(message: Any) -> Any:
    """What actually goes on the socket, read back."""
    return orjson.loads(out.encode(message)) if isinstance(message, dict) else message


# --- inbound: node → scheduler -------------------------------------------------------------


def test_node_register_parses_into_a_node_descriptor():
    expected = node_pb2.NodeDescriptor(
        version="2.3.1",
        platform=node_pb2.PLATFORM_LINUX,
        hardware=node_pb2.Hardware(
            cpu_cores=16, memory_gb=64, gpus=[node_pb2.Gpu(name="RTX 4090", memory_gb=24)]
        ),
        installed_models=[
            node_pb2.InstalledModel(
                model_id="whisper-large-v3", kind="asr", version="3.0", src_lang="zh", enabled=True
            )
        ],
        installed_services=[
            node_pb2.InstalledService(
                service_id="asr-1", type="asr", device="gpu", status="running", version="1.0",
                mem_mb=4096, warmup_ms=1200,
            )
        ],
        capability_by_type=[
            node_pb2.CapabilityByType(type="asr", ready=True, ready_impl_ids=["asr-1"]),
            node_pb2.CapabilityByType(type="tts", ready=False, reason="loading"),
        ],
        features_supported=node_pb2.FeatureFlags(emotion_detection=True, speech_rate_control=False),
        accept_public_jobs=True,
        capability_schema_version="2.0",
        advanced_features=["streaming_asr"],
        language_capabilities=node_pb2.LanguageCapabilities(
            asr_languages=["zh", "en"],
            tts_languages=["en"],
            semantic_languages=["en", "zh"],
            semantic_core_ready=True,
            nmt_capabilities=[
                node_pb2.NmtCapability(
                    model_id="m2m",
                    languages=["zh", "en"],
                    rule=node_pb2.NMT_RULE_ANY_TO_ANY,
                    blocked_pairs=[node_pb2.LanguagePair(src="en", tgt="zh")],
                )
            ],
        ),
    )
    assert node_in.parse_node_register(NODE_IN["node_register"]) == node_in.NodeRegister(
        node_id="", descriptor=expected
    )


def test_node_register_on_reconnect_keeps_the_previous_node_id():
    msg = {**NODE_IN["node_register"], "node_id": "node-1"}
    assert node_in.parse_node_register(msg).node_id == "node-1"


def test_node_heartbeat_parses_usage_capabilities_and_languages():
    assert node_in.parse_node_heartbeat(NODE_IN["node_heartbeat"]) == node_in.NodeHeartbeat(
        node_id="node-1",
        usage=node_pb2.ResourceUsage(
            cpu_percent=12.5, mem_percent=40.0, running_jobs=1, gpu_percent=80.0
        ),
        capability_by_type=[node_pb2.CapabilityByType(type="asr", ready=True)],
        language_capabilities=node_pb2.LanguageCapabilities(
            asr_languages=["zh"], semantic_languages=["en"]
        ),
    )


def test_node_heartbeat_without_language_capabilities_leaves_them_unknown():
    msg = {k: v for k, v in NODE_IN["node_heartbeat"].items() if k != "language_capabilities"}
    assert node_in.parse_node_heartbeat(msg).language_capabilities is None


@pytest.mark.parametrize(("kind", "attempt"), [("job_ack", 1), ("job_started", 2)])
def test_job_ack_and_job_started_parse_into_job_progress(kind, attempt):
    assert node_in.parse_job_progress(NODE_IN[kind]) == node_in.JobProgress(
        job_id="job-1", attempt_id=attempt, node_id="node-1", session_id="sess-1",
        trace_id="trace-1",
    )


def test_node_asr_partial_parses():
    assert node_in.parse_asr_partial(NODE_IN["asr_partial"]) == node_in.NodeAsrPartial(
        job_id="job-1", node_id="node-1", session_id="sess-1", utterance_index=3,
        text="ni hao", is_final=False,
    )


def test_job_result_parses_every_optional_field():
    parsed = node_in.parse_job_result(NODE_IN["job_result"])
    assert orjson.loads(parsed.result.extra_json) == NODE_IN["job_result"]["extra"]
    parsed.result.ClearField("extra_json")
    assert parsed == node_in.NodeJobResult(
        job_id="job-1", attempt_id=1, node_id="node-1", session_id="sess-1", utterance_index=3,
        trace_id="trace-1",
        result=job_pb2.JobResult(
            success=True, text_asr="你好", text_translated="hello", tts_audio=b"\x00\x01\x02",
            tts_format="opus", processing_time_ms=480, group_id="g-1", part_index=0,
            node_completed_at_ms=1700000000500, asr_quality_level="good",
            reason_codes=["LOW_SNR"], quality_score=0.93, rerun_count=1,
            segments_meta=job_pb2.SegmentsMeta(count=2, max_gap=0.4, avg_duration=1.5),
        ),
    )


def test_failed_job_result_keeps_the_error_and_its_details():
    result = node_in.parse_job_result(NODE_IN["job_result_failed"]).result
    assert not result.success
    assert (result.error.code, result.error.message) == ("PROCESSING_ERROR", "duplicate job")
    assert orjson.loads(result.error.details_json) == {"seen": True}
    assert not result.HasField("text_asr") and not result.HasField("text_translated")


def test_node_error_parses():
    assert node_in.parse_node_error(NODE_IN["node_error"]) == (
        "node-1", "MODEL_LOAD_FAILED", "out of memory",
    )


# --- inbound: client → scheduler -------------------------------------------------------------


def test_session_init_parses_into_session_defaults():
    init = client_in.parse_session_init(CLIENT_IN["session_init"])
    expected = job_pb2.JobSpec(
        src_lang="zh", tgt_lang="en", tenant_id="acme",
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=True),
        dialect="yue", features_json=orjson.dumps({"emotion_detection": True}),
        mode=job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO, lang_a="zh", lang_b="en",
        auto_langs=["zh", "en"], enable_streaming_asr=True, partial_update_interval_ms=500,
    )
    assert init == client_in.SessionInit(
        src_lang="zh", tgt_lang="en", tenant_id="acme", client_trace_id="client-trace",
        defaults=expected,
    )


def test_audio_chunk_parses_and_decodes_the_payload():
    assert client_in.parse_audio_chunk(CLIENT_IN["audio_chunk"], 1024) == client_in.AudioChunk(
        session_id="sess-1", seq=7, is_final=False, payload=b"\x03\x00abc"
    )
    final = client_in.parse_audio_chunk(CLIENT_IN["audio_chunk_final"], 1024)
    assert (final.seq, final.is_final, final.payload) == (8, True, b"")


def test_utterance_parses_over_the_session_defaults():
    defaults = client_in.parse_session_init(CLIENT_IN["session_init"]).defaults
    spec = client_in.parse_utterance(CLIENT_IN["utterance"], defaults, 1024)
    assert spec == job_pb2.JobSpec(
        session_id="sess-1", utterance_index=2, is_manual_cut=True, src_lang="en", tgt_lang="zh",
        audio=bytes(range(6)), audio_format="pcm16", sample_rate=16000, tenant_id="acme",
        dialect="us", features_json=orjson.dumps({"speech_rate_detection": True}),
        mode=job_pb2.TRANSLATION_MODE_ONE_WAY, lang_a="zh", lang_b="en", auto_langs=["en"],
        enable_streaming_asr=False, partial_update_interval_ms=250, client_trace_id="utt-trace",
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=False, use_semantic=True),
    )
    assert defaults.auto_langs == ["zh", "en"]  # the session defaults are not modified


@pytest.mark.parametrize("kind", ["client_heartbeat", "session_close"])
def test_client_heartbeat_and_session_close_name_their_session(kind):
    assert client_in.parse_session_ref(CLIENT_IN[kind]) == "sess-1"


@pytest.mark.parametrize(("kind", "ended"), [("tts_started", False), ("tts_play_ended", True)])
def test_tts_playback_messages_parse(kind, ended):
    assert client_in.parse_tts_playback(CLIENT_IN[kind], ended=ended) == client_in.TtsPlayback(
        session_id="sess-1", group_id="g-1", ended=ended
    )


INBOUND = [
    (node_in.parse_node_register, NODE_IN["node_register"]),
    (node_in.parse_node_heartbeat, NODE_IN["node_heartbeat"]),
    (node_in.parse_job_progress, NODE_IN["job_ack"]),
    (node_in.parse_asr_partial, NODE_IN["asr_partial"]),
    (node_in.parse_job_result, NODE_IN["job_result"]),
    (node_in.parse_node_error, NODE_IN["node_error"]),
    (client_in.parse_session_init, CLIENT_IN["session_init"]),
    (lambda m: client_in.parse_audio_chunk(m, 1024), CLIENT_IN["audio_chunk"]),
    (lambda m: client_in.parse_utterance(m, job_pb2.JobSpec(), 1024), CLIENT_IN["utterance"]),
    (client_in.parse_session_ref, CLIENT_IN["client_heartbeat"]),
    (lambda m: client_in.parse_tts_playback(m, ended=True), CLIENT_IN["tts_play_ended"]),
]


@pytest.mark.parametrize(("parse", "msg"), INBOUND)
def test_unknown_extra_fields_are_ignored(parse, msg):
    noisy = {**msg, "x_future_field": {"nested": [1, None, "y"]}, "another": None}
    assert parse(noisy) == parse(msg)


# --- outbound --------------------------------------------------------------------------------

FULL_SPEC = job_pb2.JobSpec(
    session_id="sess-1", utterance_index=5, src_lang="zh", tgt_lang="en",
    pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_semantic=True, use_tone=True),
    audio=b"\x03\x00abc", audio_format="opus", sample_rate=16000, dialect="yue",
    features_json=b'{"emotion_detection":true}', mode=job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO,
    lang_a="zh", lang_b="en", auto_langs=["zh", "en"], enable_streaming_asr=True,
    partial_update_interval_ms=500, group_id="g-1", part_index=1, context_text="earlier words",
    padding_ms=200, turn_id="turn-1", is_manual_cut=True, is_timeout_triggered=True,
    is_max_duration_triggered=True, tenant_id="acme", client_trace_id="internal-only",
)
MINIMAL_SPEC = job_pb2.JobSpec(
    session_id="sess-1", src_lang="zh", tgt_lang="en", audio=b"\x03\x00abc",
    pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=True),
    audio_format="opus", sample_rate=16000,
)
FULL_RESULT = job_pb2.JobResult(
    success=True, text_asr="你好", text_translated="hello", tts_audio=b"\x00\x01\x02",
    tts_format="opus", extra_json=orjson.dumps(NODE_IN["job_result"]["extra"]),
    processing_time_ms=480, group_id="g-1", part_index=0, node_completed_at_ms=1,
    asr_quality_level="good", reason_codes=["LOW_SNR"], quality_score=0.93, rerun_count=1,
    segments_meta=job_pb2.SegmentsMeta(count=2, max_gap=0.4, avg_duration=1.5),
)


def outcome(**kwargs: Any) -> list[dict[str, Any]]:
    message = gw_pb.UtteranceOutcome(utterance_index=3, job_id="job-1", trace_id="trace-1", **kwargs)
    return out.outcome_messages("sess-1", message, NOW)


def assignment(spec: job_pb2.JobSpec, attempt: int = 1) -> job_pb2.JobAssignment:
    return job_pb2.JobAssignment(job_id="job-1", attempt_id=attempt, trace_id="trace-1", spec=spec)


def empty(reason: str) -> job_pb2.JobResult:
    return job_pb2.JobResult(success=True, extra_json=orjson.dumps({"reason": reason}))


UI_FULL = gw_pb.UiEvent(
    utterance_index=3, job_id="job-1", trace_id="trace-1", event="NMT_DONE", elapsed_ms=0,
    error_code="NMT_TIMEOUT", hint="retrying",
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
    "asr_partial": lambda: out.asr_partial(
        "sess-1",
        gw_pb.AsrPartial(utterance_index=3, job_id="job-1", trace_id="trace-1", text="ni hao"),
    ),
    "ui_event": lambda: out.ui_event_message(
        "sess-1",
        gw_pb.UiEvent(utterance_index=3, job_id="job-1", trace_id="trace-1", event="DISPATCHED"),
    ),
    "ui_event_full": lambda: out.ui_event_message("sess-1", UI_FULL),
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
    message = gw_pb.UtteranceOutcome(utterance_index=3, result=empty("ASR_EMPTY"))
    assert "trace_id" not in out.outcome_messages("sess-1", message, NOW)[0]


# --- round trip ------------------------------------------------------------------------------


def test_a_client_utterance_round_trips_into_job_assign_with_the_same_audio_and_options():
    defaults = client_in.parse_session_init(CLIENT_IN["session_init"]).defaults
    msg = CLIENT_IN["utterance"]
    spec = client_in.parse_utterance(msg, defaults, 1024)
    assign = wire(out.job_assign(assignment(spec)))
    assert assign["audio"] == msg["audio"]
    assert base64.b64decode(assign["audio"]) == bytes(range(6))
    same = ("utterance_index", "src_lang", "tgt_lang", "audio_format", "sample_rate", "dialect",
            "features", "mode", "auto_langs", "enable_streaming_asr", "partial_update_interval_ms",
            "pipeline", "session_id")  # fmt: skip
    assert {k: assign[k] for k in same} == {k: msg[k] for k in same}
    assert (assign["lang_a"], assign["lang_b"]) == ("zh", "en")  # from the session defaults
    assert assign["is_manual_cut"] is True
    assert "tenant_id" not in assign and "client_trace_id" not in assign
