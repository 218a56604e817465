"""Golden JSON for every inbound PROTOCOL.md message: node and client messages parse into
the expected values (services/gateway/wire/node_in.py, client_in.py); unknown extra fields
are ignored. Malformed input: test_wire_errors.py; outbound: test_wire_golden_out.py."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from lingua.common.v1 import job_pb2, node_pb2
from services.gateway.wire import client_in, node_in

GOLDEN = Path(__file__).parent / "golden"
NODE_IN = json.loads((GOLDEN / "node_in.json").read_text())
CLIENT_IN = json.loads((GOLDEN / "client_in.json").read_text())

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
                service_id="asr-1",
                type="asr",
                device="gpu",
                status="running",
                version="1.0",
                mem_mb=4096,
                warmup_ms=1200,
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
        job_id="job-1",
        attempt_id=attempt,
        node_id="node-1",
        session_id="sess-1",
        trace_id="trace-1",
    )


def test_node_asr_partial_parses():
    assert node_in.parse_asr_partial(NODE_IN["asr_partial"]) == node_in.NodeAsrPartial(
        job_id="job-1",
        node_id="node-1",
        session_id="sess-1",
        utterance_index=3,
        text="ni hao",
        is_final=False,
    )


def test_job_result_parses_every_optional_field():
    parsed = node_in.parse_job_result(NODE_IN["job_result"])
    assert orjson.loads(parsed.result.extra_json) == NODE_IN["job_result"]["extra"]
    parsed.result.ClearField("extra_json")
    assert parsed == node_in.NodeJobResult(
        job_id="job-1",
        attempt_id=1,
        node_id="node-1",
        session_id="sess-1",
        utterance_index=3,
        trace_id="trace-1",
        result=job_pb2.JobResult(
            success=True,
            text_asr="你好",
            text_translated="hello",
            tts_audio=b"\x00\x01\x02",
            tts_format="opus",
            processing_time_ms=480,
            group_id="g-1",
            part_index=0,
            node_completed_at_ms=1700000000500,
            asr_quality_level="good",
            reason_codes=["LOW_SNR"],
            quality_score=0.93,
            rerun_count=1,
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
        "node-1",
        "MODEL_LOAD_FAILED",
        "out of memory",
    )


# --- inbound: client → scheduler -------------------------------------------------------------


def test_session_init_parses_into_session_defaults():
    init = client_in.parse_session_init(CLIENT_IN["session_init"])
    expected = job_pb2.JobSpec(
        src_lang="zh",
        tgt_lang="en",
        tenant_id="acme",
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=True),
        dialect="yue",
        features_json=orjson.dumps({"emotion_detection": True}),
        mode=job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO,
        lang_a="zh",
        lang_b="en",
        auto_langs=["zh", "en"],
        enable_streaming_asr=True,
        partial_update_interval_ms=500,
    )
    assert init == client_in.SessionInit(
        src_lang="zh",
        tgt_lang="en",
        tenant_id="acme",
        client_trace_id="client-trace",
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
        session_id="sess-1",
        utterance_index=2,
        is_manual_cut=True,
        src_lang="en",
        tgt_lang="zh",
        audio=bytes(range(6)),
        audio_format="pcm16",
        sample_rate=16000,
        tenant_id="acme",
        dialect="us",
        features_json=orjson.dumps({"speech_rate_detection": True}),
        mode=job_pb2.TRANSLATION_MODE_ONE_WAY,
        lang_a="zh",
        lang_b="en",
        auto_langs=["en"],
        enable_streaming_asr=False,
        partial_update_interval_ms=250,
        client_trace_id="utt-trace",
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=False, use_semantic=True),
    )
    assert defaults.auto_langs == ["zh", "en"]  # the session defaults are not modified


def test_client_heartbeat_and_session_close_name_their_session():
    assert client_in.parse_client_heartbeat(CLIENT_IN["client_heartbeat"]) == "sess-1"
    assert client_in.parse_session_close(CLIENT_IN["session_close"]) == "sess-1"


@pytest.mark.parametrize(("kind", "ended"), [("tts_started", False), ("tts_play_ended", True)])
def test_tts_playback_messages_parse(kind, ended):
    assert client_in.parse_tts_playback(CLIENT_IN[kind], ended=ended) == client_in.TtsPlayback(
        session_id="sess-1", trace_id="trace-1", group_id="g-1", ended=ended
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
    (client_in.parse_client_heartbeat, CLIENT_IN["client_heartbeat"]),
    (client_in.parse_session_close, CLIENT_IN["session_close"]),
    (lambda m: client_in.parse_tts_playback(m, ended=True), CLIENT_IN["tts_play_ended"]),
]


@pytest.mark.parametrize(("parse", "msg"), INBOUND)
def test_unknown_extra_fields_are_ignored(parse, msg):
    noisy = {**msg, "x_future_field": {"nested": [1, None, "y"]}, "another": None}
    assert parse(noisy) == parse(msg)
