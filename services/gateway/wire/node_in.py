"""Messages a node sends (PROTOCOL.md /ws/node), checked and turned into protos."""

from __future__ import annotations

from dataclasses import dataclass

from lingua.common.v1 import job_pb2, node_pb2
from services.gateway.wire.fields import (
    UINT32_MAX,
    UINT64_MAX,
    JsonObject,
    base64_bytes,
    boolean,
    integer,
    json_bytes,
    number,
    obj,
    object_list,
    one_of,
    req_bool,
    req_obj,
    req_string,
    req_uint,
    string,
    string_list,
    uint,
)

PLATFORMS = {
    "windows": node_pb2.PLATFORM_WINDOWS,
    "linux": node_pb2.PLATFORM_LINUX,
    "macos": node_pb2.PLATFORM_MACOS,
}
NMT_RULES = {
    "any_to_any": node_pb2.NMT_RULE_ANY_TO_ANY,
    "any_to_en": node_pb2.NMT_RULE_ANY_TO_EN,
    "en_to_any": node_pb2.NMT_RULE_EN_TO_ANY,
    "specific_pairs": node_pb2.NMT_RULE_SPECIFIC_PAIRS,
}
FEATURE_FLAGS = (
    "emotion_detection",
    "voice_style_detection",
    "speech_rate_detection",
    "speech_rate_control",
    "speaker_identification",
    "persona_adaptation",
)
SERVICE_TYPES = frozenset({"asr", "nmt", "tts", "tone", "semantic", "phonetic", "punctuation"})
MAX_TTS_AUDIO_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class NodeRegister:
    node_id: str
    descriptor: node_pb2.NodeDescriptor


@dataclass(frozen=True)
class NodeHeartbeat:
    node_id: str
    usage: node_pb2.ResourceUsage
    capability_by_type: list[node_pb2.CapabilityByType]
    language_capabilities: node_pb2.LanguageCapabilities | None


@dataclass(frozen=True)
class JobProgress:
    """job_ack / job_started."""

    job_id: str
    attempt_id: int
    node_id: str
    session_id: str
    trace_id: str


@dataclass(frozen=True)
class NodeAsrPartial:
    job_id: str
    node_id: str
    session_id: str
    utterance_index: int
    text: str
    is_final: bool


@dataclass(frozen=True)
class NodeJobResult:
    job_id: str
    attempt_id: int
    node_id: str
    session_id: str
    utterance_index: int
    trace_id: str
    result: job_pb2.JobResult


def parse_node_register(msg: JsonObject) -> NodeRegister:
    platform = one_of(req_string(msg, "platform"), frozenset(PLATFORMS), "platform")
    assert platform is not None
    descriptor = node_pb2.NodeDescriptor(
        version=req_string(msg, "version"),
        platform=PLATFORMS[platform],
        hardware=_hardware(req_obj(msg, "hardware")),
        installed_models=[
            _model(m, f"installed_models[{i}]")
            for i, m in enumerate(object_list(msg, "installed_models", required=True))
        ],
        installed_services=[
            _service(s, f"installed_services[{i}]")
            for i, s in enumerate(object_list(msg, "installed_services"))
        ],
        capability_by_type=_capabilities(object_list(msg, "capability_by_type", required=True)),
        features_supported=_features(req_obj(msg, "features_supported"), "features_supported"),
        accept_public_jobs=req_bool(msg, "accept_public_jobs"),
        capability_schema_version=string(msg, "capability_schema_version", required=False) or "",
        advanced_features=string_list(msg, "advanced_features"),
    )
    languages = obj(msg, "language_capabilities", required=False)
    if languages is not None:
        descriptor.language_capabilities.CopyFrom(_languages(languages))
    return NodeRegister(node_id=string(msg, "node_id", required=False) or "", descriptor=descriptor)


def parse_node_heartbeat(msg: JsonObject) -> NodeHeartbeat:
    usage_msg = req_obj(msg, "resource_usage")
    usage = node_pb2.ResourceUsage(
        cpu_percent=_req_number(usage_msg, "cpu_percent", "resource_usage"),
        mem_percent=_req_number(usage_msg, "mem_percent", "resource_usage"),
        running_jobs=req_uint(usage_msg, "running_jobs", "resource_usage", maximum=UINT32_MAX),
    )
    gpu = number(usage_msg, "gpu_percent", "resource_usage", required=False)
    if gpu is not None:
        usage.gpu_percent = gpu
    gpu_mem = number(usage_msg, "gpu_mem_percent", "resource_usage", required=False)
    if gpu_mem is not None:
        usage.gpu_mem_percent = gpu_mem
    req_uint(msg, "timestamp")
    object_list(msg, "installed_services", required=True)
    languages = obj(msg, "language_capabilities", required=False)
    return NodeHeartbeat(
        node_id=req_string(msg, "node_id"),
        usage=usage,
        capability_by_type=_capabilities(object_list(msg, "capability_by_type", required=True)),
        language_capabilities=_languages(languages) if languages is not None else None,
    )


def parse_job_progress(msg: JsonObject) -> JobProgress:
    return JobProgress(
        job_id=req_string(msg, "job_id"),
        attempt_id=req_uint(msg, "attempt_id", maximum=UINT32_MAX),
        node_id=req_string(msg, "node_id"),
        session_id=req_string(msg, "session_id"),
        trace_id=req_string(msg, "trace_id"),
    )


def parse_asr_partial(msg: JsonObject) -> NodeAsrPartial:
    req_string(msg, "trace_id")
    return NodeAsrPartial(
        job_id=req_string(msg, "job_id"),
        node_id=req_string(msg, "node_id"),
        session_id=req_string(msg, "session_id"),
        utterance_index=req_uint(msg, "utterance_index"),
        text=req_string(msg, "text"),
        is_final=req_bool(msg, "is_final"),
    )


def parse_job_result(msg: JsonObject) -> NodeJobResult:
    result = job_pb2.JobResult(
        success=req_bool(msg, "success"),
        tts_audio=base64_bytes(msg, "tts_audio", required=False, max_bytes=MAX_TTS_AUDIO_BYTES),
        reason_codes=string_list(msg, "reason_codes"),
    )
    for name in ("text_asr", "text_translated", "tts_format", "group_id", "asr_quality_level"):
        value = string(msg, name, required=False)
        if value is not None:
            setattr(result, name, value)
    for name, maximum in (
        ("processing_time_ms", UINT64_MAX),
        ("part_index", UINT32_MAX),
        ("rerun_count", UINT32_MAX),
    ):
        count = uint(msg, name, required=False, maximum=maximum)
        if count is not None:
            setattr(result, name, count)
    completed_at = integer(msg, "node_completed_at_ms", required=False)
    if completed_at is not None:
        result.node_completed_at_ms = completed_at
    score = number(msg, "quality_score", required=False)
    if score is not None:
        result.quality_score = score
    extra = obj(msg, "extra", required=False)
    if extra is not None:
        result.extra_json = json_bytes(extra, "extra")
    error = obj(msg, "error", required=False)
    if error is not None:
        result.error.CopyFrom(
            job_pb2.JobError(
                code=req_string(error, "code", "error"),
                message=req_string(error, "message", "error"),
                details_json=json_bytes(error["details"], "error.details")
                if "details" in error
                else b"",
            )
        )
    segments = obj(msg, "segments_meta", required=False)
    if segments is not None:
        result.segments_meta.CopyFrom(
            job_pb2.SegmentsMeta(
                count=req_uint(segments, "count", "segments_meta", maximum=UINT32_MAX),
                max_gap=_req_number(segments, "max_gap", "segments_meta"),
                avg_duration=_req_number(segments, "avg_duration", "segments_meta"),
            )
        )
    return NodeJobResult(
        job_id=req_string(msg, "job_id"),
        attempt_id=req_uint(msg, "attempt_id", maximum=UINT32_MAX),
        node_id=req_string(msg, "node_id"),
        session_id=req_string(msg, "session_id"),
        utterance_index=req_uint(msg, "utterance_index"),
        trace_id=req_string(msg, "trace_id"),
        result=result,
    )


def parse_node_control(msg: JsonObject) -> tuple[str, str]:
    """A node's own control request (an extension of PROTOCOL.md): command, reason."""
    return req_string(msg, "command"), string(msg, "reason", required=False) or ""


def parse_node_error(msg: JsonObject) -> tuple[str, str, str]:
    return req_string(msg, "node_id"), req_string(msg, "code"), req_string(msg, "message")


def _req_number(msg: JsonObject, name: str, path: str) -> float:
    value = number(msg, name, path)
    assert value is not None
    return value


def _hardware(msg: JsonObject) -> node_pb2.Hardware:
    return node_pb2.Hardware(
        cpu_cores=req_uint(msg, "cpu_cores", "hardware", maximum=UINT32_MAX),
        memory_gb=req_uint(msg, "memory_gb", "hardware", maximum=UINT32_MAX),
        gpus=[
            node_pb2.Gpu(
                name=req_string(g, "name", f"hardware.gpus[{i}]"),
                memory_gb=req_uint(g, "memory_gb", f"hardware.gpus[{i}]", maximum=UINT32_MAX),
            )
            for i, g in enumerate(object_list(msg, "gpus", "hardware"))
        ],
    )


def _model(msg: JsonObject, path: str) -> node_pb2.InstalledModel:
    model = node_pb2.InstalledModel(
        model_id=req_string(msg, "model_id", path),
        kind=req_string(msg, "kind", path),
        version=req_string(msg, "version", path),
    )
    for name in ("src_lang", "tgt_lang", "dialect"):
        value = string(msg, name, path, required=False)
        if value is not None:
            setattr(model, name, value)
    enabled = boolean(msg, "enabled", path, required=False)
    if enabled is not None:
        model.enabled = enabled
    return model


def _service(msg: JsonObject, path: str) -> node_pb2.InstalledService:
    service = node_pb2.InstalledService(
        service_id=req_string(msg, "service_id", path),
        type=req_string(msg, "type", path),
        device=req_string(msg, "device", path),
        status=req_string(msg, "status", path),
    )
    for name in ("version", "model_id", "engine", "last_error"):
        value = string(msg, name, path, required=False)
        if value is not None:
            setattr(service, name, value)
    for name in ("mem_mb", "warmup_ms"):
        count = uint(msg, name, path, required=False, maximum=UINT32_MAX)
        if count is not None:
            setattr(service, name, count)
    return service


def _capabilities(items: list[JsonObject]) -> list[node_pb2.CapabilityByType]:
    capabilities = []
    for i, item in enumerate(items):
        path = f"capability_by_type[{i}]"
        capability = node_pb2.CapabilityByType(
            type=req_string(item, "type", path),
            ready=req_bool(item, "ready", path),
            ready_impl_ids=string_list(item, "ready_impl_ids", path),
        )
        reason = string(item, "reason", path, required=False)
        if reason is not None:
            capability.reason = reason
        capabilities.append(capability)
    return capabilities


def _features(msg: JsonObject, path: str) -> node_pb2.FeatureFlags:
    flags = node_pb2.FeatureFlags()
    for name in FEATURE_FLAGS:
        value = boolean(msg, name, path, required=False)
        if value is not None:
            setattr(flags, name, value)
    return flags


def _languages(msg: JsonObject) -> node_pb2.LanguageCapabilities:
    path = "language_capabilities"
    caps = node_pb2.LanguageCapabilities(
        asr_languages=string_list(msg, "asr_languages", path),
        tts_languages=string_list(msg, "tts_languages", path),
        semantic_languages=string_list(msg, "semantic_languages", path),
    )
    core_ready = boolean(msg, "semantic_core_ready", path, required=False)
    if core_ready is not None:
        caps.semantic_core_ready = core_ready
    for i, nmt in enumerate(object_list(msg, "nmt_capabilities", path)):
        where = f"{path}.nmt_capabilities[{i}]"
        rule = one_of(req_string(nmt, "rule", where), frozenset(NMT_RULES), f"{where}.rule")
        assert rule is not None
        caps.nmt_capabilities.append(
            node_pb2.NmtCapability(
                model_id=req_string(nmt, "model_id", where),
                languages=string_list(nmt, "languages", where, required=True),
                rule=NMT_RULES[rule],
                blocked_pairs=_pairs(object_list(nmt, "blocked_pairs", where), where),
                supported_pairs=_pairs(object_list(nmt, "supported_pairs", where), where),
            )
        )
    return caps


def _pairs(items: list[JsonObject], where: str) -> list[node_pb2.LanguagePair]:
    return [
        node_pb2.LanguagePair(src=req_string(p, "src", where), tgt=req_string(p, "tgt", where))
        for p in items
    ]
