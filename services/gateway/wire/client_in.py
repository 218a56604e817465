"""Messages a client sends (PROTOCOL.md /ws/session), checked and turned into protos."""

from __future__ import annotations

from dataclasses import dataclass

from lingua.common.v1 import job_pb2
from lingua_common.routes import RouteError, route_of
from services.gateway.wire.fields import (
    UINT32_MAX,
    JsonObject,
    WireError,
    base64_bytes,
    boolean,
    json_bytes,
    obj,
    one_of,
    req_bool,
    req_string,
    req_uint,
    string,
    string_list,
    uint,
)

CLIENT_PLATFORMS = frozenset({"android", "ios", "web", "api-gateway"})
MODES = {
    "one_way": job_pb2.TRANSLATION_MODE_ONE_WAY,
    "two_way_auto": job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO,
}
DEFAULT_PIPELINE = job_pb2.Pipeline(use_asr=True, use_nmt=True, use_tts=True)


@dataclass(frozen=True)
class SessionInit:
    src_lang: str
    tgt_lang: str
    tenant_id: str
    client_trace_id: str
    # Session-wide job options, applied to every utterance cut from streamed audio.
    defaults: job_pb2.JobSpec


@dataclass(frozen=True)
class AudioChunk:
    session_id: str
    seq: int
    is_final: bool
    payload: bytes


@dataclass(frozen=True)
class TtsPlayback:
    session_id: str
    trace_id: str
    group_id: str
    ended: bool


def _job_options(msg: JsonObject, spec: job_pb2.JobSpec) -> None:
    """The optional job fields shared by session_init and utterance."""
    dialect = string(msg, "dialect", required=False)
    if dialect is not None:
        spec.dialect = dialect
    features = obj(msg, "features", required=False)
    if features is not None:
        spec.features_json = json_bytes(features, "features")
    mode = one_of(string(msg, "mode", required=False), frozenset(MODES), "mode")
    if mode is not None:
        spec.mode = MODES[mode]
    for name in ("lang_a", "lang_b"):
        value = string(msg, name, required=False)
        if value is not None:
            setattr(spec, name, value)
    auto_langs = string_list(msg, "auto_langs")
    if auto_langs:
        spec.ClearField("auto_langs")
        spec.auto_langs.extend(auto_langs)
    streaming = boolean(msg, "enable_streaming_asr", required=False)
    if streaming is not None:
        spec.enable_streaming_asr = streaming
    interval = uint(msg, "partial_update_interval_ms", required=False, maximum=UINT32_MAX)
    if interval is not None:
        spec.partial_update_interval_ms = interval


def parse_session_init(msg: JsonObject) -> SessionInit:
    req_string(msg, "client_version")
    one_of(req_string(msg, "platform"), CLIENT_PLATFORMS, "platform")
    src, tgt = req_string(msg, "src_lang"), req_string(msg, "tgt_lang")
    if not src or not tgt:
        raise WireError("fields 'src_lang' and 'tgt_lang' must not be empty")
    string(msg, "pairing_code", required=False)
    tenant = string(msg, "tenant_id", required=False) or ""
    defaults = job_pb2.JobSpec(src_lang=src, tgt_lang=tgt, tenant_id=tenant)
    defaults.pipeline.CopyFrom(DEFAULT_PIPELINE)
    _job_options(msg, defaults)
    _check_route(defaults)
    return SessionInit(
        src_lang=src,
        tgt_lang=tgt,
        tenant_id=tenant,
        client_trace_id=string(msg, "trace_id", required=False) or "",
        defaults=defaults,
    )


def parse_audio_chunk(msg: JsonObject, max_bytes: int) -> AudioChunk:
    return AudioChunk(
        session_id=req_string(msg, "session_id"),
        seq=req_uint(msg, "seq"),
        is_final=req_bool(msg, "is_final"),
        payload=base64_bytes(msg, "payload", required=False, max_bytes=max_bytes),
    )


def parse_utterance(
    msg: JsonObject, defaults: job_pb2.JobSpec, max_audio_bytes: int
) -> job_pb2.JobSpec:
    spec = job_pb2.JobSpec()
    spec.CopyFrom(defaults)
    spec.session_id = req_string(msg, "session_id")
    spec.utterance_index = req_uint(msg, "utterance_index")
    spec.is_manual_cut = req_bool(msg, "manual_cut")
    spec.src_lang = req_string(msg, "src_lang")
    spec.tgt_lang = req_string(msg, "tgt_lang")
    spec.audio = base64_bytes(msg, "audio", max_bytes=max_audio_bytes)
    spec.audio_format = req_string(msg, "audio_format")
    spec.sample_rate = req_uint(msg, "sample_rate", maximum=UINT32_MAX)
    if not spec.src_lang or not spec.tgt_lang:
        raise WireError("fields 'src_lang' and 'tgt_lang' must not be empty")
    _job_options(msg, spec)
    trace_id = string(msg, "trace_id", required=False)
    if trace_id is not None:
        spec.client_trace_id = trace_id
    pipeline = obj(msg, "pipeline", required=False)
    if pipeline is not None:
        spec.pipeline.CopyFrom(
            job_pb2.Pipeline(
                use_asr=req_bool(pipeline, "use_asr", "pipeline"),
                use_nmt=req_bool(pipeline, "use_nmt", "pipeline"),
                use_tts=req_bool(pipeline, "use_tts", "pipeline"),
                use_semantic=boolean(pipeline, "use_semantic", "pipeline", required=False) or False,
                use_tone=boolean(pipeline, "use_tone", "pipeline", required=False) or False,
            )
        )
    _check_route(spec)
    return spec


def _check_route(spec: job_pb2.JobSpec) -> None:
    """src_lang "auto" (two-way mode) is no language: it needs lang_a and lang_b."""
    try:
        route_of(spec)
    except RouteError as error:
        raise WireError(str(error)) from None


def parse_session_ref(msg: JsonObject) -> str:
    """The session a message is about."""
    return req_string(msg, "session_id")


def parse_client_heartbeat(msg: JsonObject) -> str:
    req_uint(msg, "timestamp")
    return parse_session_ref(msg)


def parse_session_close(msg: JsonObject) -> str:
    req_string(msg, "reason")
    return parse_session_ref(msg)


def parse_tts_playback(msg: JsonObject, ended: bool) -> TtsPlayback:
    req_uint(msg, "ts_end_ms" if ended else "ts_start_ms")
    return TtsPlayback(
        session_id=req_string(msg, "session_id"),
        trace_id=req_string(msg, "trace_id"),
        group_id=req_string(msg, "group_id"),
        ended=ended,
    )
