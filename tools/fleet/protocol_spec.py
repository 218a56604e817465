"""PROTOCOL.md v1 message shapes as data (checked by tools.fleet.schema).

Type names: str, int, uint (>= 0), attempt (>= 1), bool, true (a flag omitted when
false), num, obj, any (any non-null), "enum:a|b|c", [T] an array of T, and a
capitalised name for a struct below. A trailing "?" marks an optional field;
"str|null" permits an explicit null (node_register.node_id on first connect).

Beyond the types, every value is held to the table of limits by its field's name, as the
gateway's validators (services/gateway/wire/) hold it: lingua_common/limits.py (ids,
language codes, sample rates, audio formats, text and list lengths); schema.py applies
it, so this mirror and the gateway cannot drift apart on bounds.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["node_out", "node_in", "client_out", "client_in"]
Spec = dict[str, str]

_MODE = "enum:one_way|two_way_auto"
_QUALITY = "enum:good|suspect|bad"
_UI_EVENTS = (
    "enum:INPUT_STARTED|INPUT_ENDED|ASR_PARTIAL|ASR_FINAL|DISPATCHED|NODE_ACCEPTED|NMT_DONE"
    "|TTS_PLAY_STARTED|TTS_PLAY_ENDED|ERROR"
)
_TIMINGS = "num?"

STRUCTS: dict[str, Spec] = {
    "FeatureFlags": {
        k: "bool?"
        for k in (
            "emotion_detection",
            "voice_style_detection",
            "speech_rate_detection",
            "speech_rate_control",
            "speaker_identification",
            "persona_adaptation",
        )
    },
    "PipelineConfig": {
        "use_asr": "bool",
        "use_nmt": "bool",
        "use_tts": "bool",
        "use_semantic": "bool?",
        "use_tone": "bool?",
    },
    "InstalledModel": {
        "model_id": "str",
        "kind": "str",
        "version": "str",
        "src_lang": "str?",
        "tgt_lang": "str?",
        "dialect": "str?",
        "enabled": "bool?",
    },
    "InstalledService": {
        "service_id": "str",
        "type": "enum:asr|nmt|tts|tone|semantic|phonetic|punctuation",
        "device": "enum:gpu|cpu",
        "status": "enum:running|stopped|error",
        "version": "str?",
        "model_id": "str?",
        "engine": "str?",
        "mem_mb": "num?",
        "warmup_ms": "num?",
        "last_error": "str?",
    },
    "CapabilityByType": {
        "type": "str",
        "ready": "bool",
        "reason": "str?",
        "ready_impl_ids": "[str]?",
    },
    "LanguageCapabilities": {
        "asr_languages": "[str]?",
        "tts_languages": "[str]?",
        "semantic_languages": "[str]?",
        "semantic_core_ready": "bool?",
        "nmt_capabilities": "[obj]?",
    },
    "Hardware": {"cpu_cores": "uint", "memory_gb": "uint", "gpus": "[Gpu]?"},
    "Gpu": {"name": "str", "memory_gb": "num"},
    "ResourceUsage": {
        "cpu_percent": "num",
        "mem_percent": "num",
        "running_jobs": "int",
        "gpu_percent": "num?",
        "gpu_mem_percent": "num?",
    },
    "ServiceTimings": dict.fromkeys(("asr_ms", "nmt_ms", "tts_ms", "total_ms"), _TIMINGS),
    "NetworkTimings": dict.fromkeys(
        (
            "web_to_scheduler_ms",
            "scheduler_to_node_ms",
            "node_to_scheduler_ms",
            "scheduler_to_web_ms",
        ),
        _TIMINGS,
    ),
    "ExtraResult": {
        "emotion": "any?",
        "speech_rate": "any?",
        "voice_style": "any?",
        "service_timings": "ServiceTimings?",
        "language_probability": "num?",
        "language_probabilities": "any?",
        "reason": "str?",
    },
    "ErrorBody": {"code": "str", "message": "str", "details": "obj?"},
}

_ERROR: Spec = {"code": "str", "message": "str", "details": "obj?"}
# Utterance groups (PROTOCOL.md "Utterance groups"): ids are strings, parts count from 0;
# the gateway's validators (services/gateway/wire) read them so.
_GROUP: Spec = {"group_id": "str?", "part_index": "uint?"}
_RESULT_EXTRAS: Spec = {
    **_GROUP,
    "asr_quality_level": _QUALITY + "?",
    "reason_codes": "[str]?",
    "quality_score": "num?",
    "rerun_count": "uint?",
    "segments_meta": "obj?",
}
_SESSION_OPTIONS: Spec = {
    "dialect": "str?",
    "features": "FeatureFlags?",
    "mode": _MODE + "?",
    "lang_a": "str?",
    "lang_b": "str?",
    "auto_langs": "[str]?",
    "enable_streaming_asr": "bool?",
    "partial_update_interval_ms": "uint?",
    "trace_id": "str?",
}
_JOB_ACK: Spec = {
    "job_id": "str",
    "attempt_id": "attempt",
    "node_id": "str",
    "session_id": "str",
    "trace_id": "str",
}

MESSAGES: dict[Direction, dict[str, Spec]] = {
    "node_out": {
        "node_register": {
            "version": "str",
            "platform": "enum:windows|linux|macos",
            "hardware": "Hardware",
            "installed_models": "[InstalledModel]",
            "capability_by_type": "[CapabilityByType]",
            "features_supported": "FeatureFlags",
            "accept_public_jobs": "bool",
            "node_id": "str|null?",
            "capability_schema_version": "str?",
            "installed_services": "[InstalledService]?",
            "advanced_features": "[any]?",
            "language_capabilities": "LanguageCapabilities?",
        },
        "node_heartbeat": {
            "node_id": "str",
            "timestamp": "uint",
            "resource_usage": "ResourceUsage",
            "installed_services": "[InstalledService]",
            "capability_by_type": "[CapabilityByType]",
            "installed_models": "[InstalledModel]?",
            "language_capabilities": "LanguageCapabilities?",
            "rerun_metrics": "obj?",
            "processing_metrics": "obj?",
            "asr_metrics": "any?",
        },
        "job_ack": _JOB_ACK,
        "job_started": _JOB_ACK,
        "asr_partial": {
            "job_id": "str",
            "node_id": "str",
            "session_id": "str",
            "utterance_index": "uint",
            "text": "str",
            "is_final": "bool",
            "trace_id": "str",
        },
        "job_result": {
            "job_id": "str",
            "attempt_id": "attempt",
            "node_id": "str",
            "session_id": "str",
            "utterance_index": "uint",
            "success": "bool",
            "trace_id": "str",
            "text_asr": "str?",
            "text_translated": "str?",
            "tts_audio": "str?",
            "tts_format": "str?",
            "extra": "ExtraResult?",
            "processing_time_ms": "num?",
            "error": "ErrorBody?",
            "node_completed_at_ms": "uint?",
            **_RESULT_EXTRAS,
        },
        "node_error": {"node_id": "str", "code": "str", "message": "str", "details": "obj?"},
    },
    "node_in": {
        "node_register_ack": {"node_id": "str", "message": "str", "status": "str?"},
        "job_assign": {
            "job_id": "str",
            "attempt_id": "attempt",
            "session_id": "str",
            "utterance_index": "uint",
            "src_lang": "str",
            "tgt_lang": "str",
            "pipeline": "PipelineConfig",
            "audio": "str",
            "audio_format": "str",
            "sample_rate": "uint",
            "trace_id": "str",
            **{k: v for k, v in _SESSION_OPTIONS.items() if k != "trace_id"},
            **_GROUP,
            "context_text": "str?",
            "padding_ms": "num?",
            "turn_id": "any?",
            "is_manual_cut": "true?",
            "is_timeout_triggered": "true?",
            "is_max_duration_triggered": "true?",
        },
        "job_cancel": {"job_id": "str", "trace_id": "str?", "reason": "str?"},
        "node_control": {"command": "str", "reason": "str?"},
        "error": _ERROR,
    },
    "client_out": {
        "session_init": {
            "client_version": "str",
            "platform": "enum:android|ios|web|api-gateway",
            "src_lang": "str",
            "tgt_lang": "str",
            "pairing_code": "str?",
            "tenant_id": "str?",
            **_SESSION_OPTIONS,
        },
        "audio_chunk": {
            "session_id": "str",
            "seq": "uint",
            "is_final": "bool",
            "payload": "str?",
            "client_timestamp_ms": "uint?",
        },
        "utterance": {
            "session_id": "str",
            "utterance_index": "uint",
            "manual_cut": "bool",
            "src_lang": "str",
            "tgt_lang": "str",
            "audio": "str",
            "audio_format": "str",
            "sample_rate": "uint",
            **_SESSION_OPTIONS,
            "pipeline": "PipelineConfig?",
        },
        "client_heartbeat": {"session_id": "str", "timestamp": "uint"},
        "session_close": {"session_id": "str", "reason": "str"},
        "tts_started": {
            "session_id": "str",
            "trace_id": "str",
            "group_id": "str",
            "ts_start_ms": "uint",
        },
        "tts_play_ended": {
            "session_id": "str",
            "trace_id": "str",
            "group_id": "str",
            "ts_end_ms": "uint",
        },
    },
    "client_in": {
        "session_init_ack": {
            "session_id": "str",
            "message": "str",
            "trace_id": "str",
            "assigned_node_id": "str?",
            "protocol_version": "str?",
            "use_binary_frame": "bool?",
            "negotiated_codec": "str?",
            "negotiated_audio_format": "str?",
            "negotiated_sample_rate": "uint?",
            "negotiated_channel_count": "uint?",
        },
        "translation_result": {
            "session_id": "str",
            "utterance_index": "uint",
            "job_id": "str",
            "text_asr": "str",
            "text_translated": "str",
            "tts_audio": "str",
            "tts_format": "str",
            "trace_id": "str",
            "extra": "ExtraResult?",
            "service_timings": "ServiceTimings?",
            "network_timings": "NetworkTimings?",
            "scheduler_sent_at_ms": "uint?",
            **_RESULT_EXTRAS,
        },
        "asr_partial": {
            "session_id": "str",
            "utterance_index": "uint",
            "job_id": "str",
            "text": "str",
            "is_final": "bool",
            "trace_id": "str",
        },
        "missing_result": {
            "session_id": "str",
            "utterance_index": "uint",
            "reason": "str",
            "created_at_ms": "uint",
            "trace_id": "str?",
        },
        "ui_event": {
            "trace_id": "str",
            "session_id": "str",
            "job_id": "str",
            "utterance_index": "uint",
            "event": _UI_EVENTS,
            "status": "enum:ok|error",
            "elapsed_ms": "num?",
            "error_code": "str?",
            "hint": "str?",
        },
        "server_heartbeat": {"session_id": "str", "timestamp": "uint"},
        "session_close_ack": {"session_id": "str"},
        "error": _ERROR,
    },
}
