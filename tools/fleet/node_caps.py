"""What a fake node advertises: the bodies of node_register and node_heartbeat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tools.fleet.wire import JsonObject

AGENT_VERSION = "fleet-sim/1.0"
SERVICE_TYPES = ("asr", "nmt", "tts", "semantic")
FEATURE_FLAGS = (
    "emotion_detection",
    "voice_style_detection",
    "speech_rate_detection",
    "speech_rate_control",
    "speaker_identification",
    "persona_adaptation",
)

Pair = tuple[str, str]


def language_capabilities(pairs: Sequence[Pair]) -> JsonObject:
    """Per the protocol a node serves (ASR language -> semantic language) pairs, so the
    cross product of sources and targets is what the scheduler will see."""
    sources = sorted({src for src, _ in pairs})
    targets = sorted({tgt for _, tgt in pairs})
    return {
        "asr_languages": sources,
        "semantic_languages": targets,
        "tts_languages": targets,
        "semantic_core_ready": True,
    }


def installed_services() -> list[JsonObject]:
    return [
        {
            "service_id": f"fake-{kind}",
            "type": kind,
            "device": "gpu",
            "status": "running",
            "version": "1.0",
            "model_id": f"fake-{kind}-model",
            "engine": "fleet-sim",
        }
        for kind in SERVICE_TYPES
    ]


def capability_by_type() -> list[JsonObject]:
    return [
        {"type": kind, "ready": True, "ready_impl_ids": [f"fake-{kind}"]} for kind in SERVICE_TYPES
    ]


def installed_models(pairs: Sequence[Pair]) -> list[JsonObject]:
    models: list[JsonObject] = [
        {"model_id": f"fake-{kind}-model", "kind": kind, "version": "1.0"}
        for kind in SERVICE_TYPES
        if kind != "nmt"
    ]
    for src, tgt in sorted(set(pairs)):
        models.append(
            {
                "model_id": f"fake-nmt-{src}-{tgt}",
                "kind": "nmt",
                "version": "1.0",
                "src_lang": src,
                "tgt_lang": tgt,
                "enabled": True,
            }
        )
    return models


def register_message(
    pairs: Sequence[Pair], node_id: str | None, accept_public_jobs: bool = True
) -> JsonObject:
    message: dict[str, Any] = {
        "type": "node_register",
        "version": AGENT_VERSION,
        "platform": "linux",
        "hardware": {
            "cpu_cores": 8,
            "memory_gb": 32,
            "gpus": [{"name": "FleetSim GPU", "memory_gb": 24}],
        },
        "installed_models": installed_models(pairs),
        "capability_by_type": capability_by_type(),
        "features_supported": dict.fromkeys(FEATURE_FLAGS, False),
        "accept_public_jobs": accept_public_jobs,
        "capability_schema_version": "2.0",
        "installed_services": installed_services(),
        "language_capabilities": language_capabilities(pairs),
    }
    if node_id is not None:  # omitted, not null, on the first connect
        message["node_id"] = node_id
    return message


def heartbeat_message(
    node_id: str, timestamp_ms: int, running_jobs: int, max_in_flight: int
) -> JsonObject:
    load = 100.0 * running_jobs / max(1, max_in_flight)
    return {
        "type": "node_heartbeat",
        "node_id": node_id,
        "timestamp": timestamp_ms,
        "resource_usage": {
            "cpu_percent": min(100.0, 5.0 + load / 4),
            "mem_percent": 20.0,
            "running_jobs": running_jobs,
            "gpu_percent": min(100.0, load),
            "gpu_mem_percent": 40.0,
        },
        "installed_services": installed_services(),
        "capability_by_type": capability_by_type(),
    }
