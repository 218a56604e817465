from lingua.common.v1 import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranslationMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSLATION_MODE_UNSPECIFIED: _ClassVar[TranslationMode]
    TRANSLATION_MODE_ONE_WAY: _ClassVar[TranslationMode]
    TRANSLATION_MODE_TWO_WAY_AUTO: _ClassVar[TranslationMode]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_CREATED: _ClassVar[JobState]
    JOB_STATE_PENDING: _ClassVar[JobState]
    JOB_STATE_DISPATCHED: _ClassVar[JobState]
    JOB_STATE_ACCEPTED: _ClassVar[JobState]
    JOB_STATE_COMPLETED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
TRANSLATION_MODE_UNSPECIFIED: TranslationMode
TRANSLATION_MODE_ONE_WAY: TranslationMode
TRANSLATION_MODE_TWO_WAY_AUTO: TranslationMode
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_CREATED: JobState
JOB_STATE_PENDING: JobState
JOB_STATE_DISPATCHED: JobState
JOB_STATE_ACCEPTED: JobState
JOB_STATE_COMPLETED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class Pipeline(_message.Message):
    __slots__ = ("use_asr", "use_nmt", "use_tts", "use_semantic", "use_tone")
    USE_ASR_FIELD_NUMBER: _ClassVar[int]
    USE_NMT_FIELD_NUMBER: _ClassVar[int]
    USE_TTS_FIELD_NUMBER: _ClassVar[int]
    USE_SEMANTIC_FIELD_NUMBER: _ClassVar[int]
    USE_TONE_FIELD_NUMBER: _ClassVar[int]
    use_asr: bool
    use_nmt: bool
    use_tts: bool
    use_semantic: bool
    use_tone: bool
    def __init__(self, use_asr: _Optional[bool] = ..., use_nmt: _Optional[bool] = ..., use_tts: _Optional[bool] = ..., use_semantic: _Optional[bool] = ..., use_tone: _Optional[bool] = ...) -> None: ...

class JobSpec(_message.Message):
    __slots__ = ("session_id", "utterance_index", "src_lang", "tgt_lang", "pipeline", "audio", "audio_format", "sample_rate", "dialect", "features_json", "mode", "lang_a", "lang_b", "auto_langs", "enable_streaming_asr", "partial_update_interval_ms", "group_id", "part_index", "context_text", "padding_ms", "turn_id", "is_manual_cut", "is_timeout_triggered", "is_max_duration_triggered", "tenant_id", "client_trace_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    SRC_LANG_FIELD_NUMBER: _ClassVar[int]
    TGT_LANG_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_JSON_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    LANG_A_FIELD_NUMBER: _ClassVar[int]
    LANG_B_FIELD_NUMBER: _ClassVar[int]
    AUTO_LANGS_FIELD_NUMBER: _ClassVar[int]
    ENABLE_STREAMING_ASR_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_UPDATE_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PART_INDEX_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_TEXT_FIELD_NUMBER: _ClassVar[int]
    PADDING_MS_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    IS_MANUAL_CUT_FIELD_NUMBER: _ClassVar[int]
    IS_TIMEOUT_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    IS_MAX_DURATION_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    utterance_index: int
    src_lang: str
    tgt_lang: str
    pipeline: Pipeline
    audio: bytes
    audio_format: str
    sample_rate: int
    dialect: str
    features_json: bytes
    mode: TranslationMode
    lang_a: str
    lang_b: str
    auto_langs: _containers.RepeatedScalarFieldContainer[str]
    enable_streaming_asr: bool
    partial_update_interval_ms: int
    group_id: str
    part_index: int
    context_text: str
    padding_ms: int
    turn_id: str
    is_manual_cut: bool
    is_timeout_triggered: bool
    is_max_duration_triggered: bool
    tenant_id: str
    client_trace_id: str
    def __init__(self, session_id: _Optional[str] = ..., utterance_index: _Optional[int] = ..., src_lang: _Optional[str] = ..., tgt_lang: _Optional[str] = ..., pipeline: _Optional[_Union[Pipeline, _Mapping]] = ..., audio: _Optional[bytes] = ..., audio_format: _Optional[str] = ..., sample_rate: _Optional[int] = ..., dialect: _Optional[str] = ..., features_json: _Optional[bytes] = ..., mode: _Optional[_Union[TranslationMode, str]] = ..., lang_a: _Optional[str] = ..., lang_b: _Optional[str] = ..., auto_langs: _Optional[_Iterable[str]] = ..., enable_streaming_asr: _Optional[bool] = ..., partial_update_interval_ms: _Optional[int] = ..., group_id: _Optional[str] = ..., part_index: _Optional[int] = ..., context_text: _Optional[str] = ..., padding_ms: _Optional[int] = ..., turn_id: _Optional[str] = ..., is_manual_cut: _Optional[bool] = ..., is_timeout_triggered: _Optional[bool] = ..., is_max_duration_triggered: _Optional[bool] = ..., tenant_id: _Optional[str] = ..., client_trace_id: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id", "session_id", "utterance_index", "trace_id", "gateway_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    session_id: str
    utterance_index: int
    trace_id: str
    gateway_id: str
    def __init__(self, job_id: _Optional[str] = ..., session_id: _Optional[str] = ..., utterance_index: _Optional[int] = ..., trace_id: _Optional[str] = ..., gateway_id: _Optional[str] = ...) -> None: ...

class JobAssignment(_message.Message):
    __slots__ = ("job_id", "attempt_id", "trace_id", "spec")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    attempt_id: int
    trace_id: str
    spec: JobSpec
    def __init__(self, job_id: _Optional[str] = ..., attempt_id: _Optional[int] = ..., trace_id: _Optional[str] = ..., spec: _Optional[_Union[JobSpec, _Mapping]] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message", "details_json")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    details_json: bytes
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., details_json: _Optional[bytes] = ...) -> None: ...

class SegmentsMeta(_message.Message):
    __slots__ = ("count", "max_gap", "avg_duration")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_GAP_FIELD_NUMBER: _ClassVar[int]
    AVG_DURATION_FIELD_NUMBER: _ClassVar[int]
    count: int
    max_gap: float
    avg_duration: float
    def __init__(self, count: _Optional[int] = ..., max_gap: _Optional[float] = ..., avg_duration: _Optional[float] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ("success", "text_asr", "text_translated", "tts_audio", "tts_format", "extra_json", "processing_time_ms", "error", "group_id", "part_index", "node_completed_at_ms", "asr_quality_level", "reason_codes", "quality_score", "rerun_count", "segments_meta")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TEXT_ASR_FIELD_NUMBER: _ClassVar[int]
    TEXT_TRANSLATED_FIELD_NUMBER: _ClassVar[int]
    TTS_AUDIO_FIELD_NUMBER: _ClassVar[int]
    TTS_FORMAT_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PART_INDEX_FIELD_NUMBER: _ClassVar[int]
    NODE_COMPLETED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ASR_QUALITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    QUALITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    RERUN_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_META_FIELD_NUMBER: _ClassVar[int]
    success: bool
    text_asr: str
    text_translated: str
    tts_audio: bytes
    tts_format: str
    extra_json: bytes
    processing_time_ms: int
    error: JobError
    group_id: str
    part_index: int
    node_completed_at_ms: int
    asr_quality_level: str
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    quality_score: float
    rerun_count: int
    segments_meta: SegmentsMeta
    def __init__(self, success: _Optional[bool] = ..., text_asr: _Optional[str] = ..., text_translated: _Optional[str] = ..., tts_audio: _Optional[bytes] = ..., tts_format: _Optional[str] = ..., extra_json: _Optional[bytes] = ..., processing_time_ms: _Optional[int] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., group_id: _Optional[str] = ..., part_index: _Optional[int] = ..., node_completed_at_ms: _Optional[int] = ..., asr_quality_level: _Optional[str] = ..., reason_codes: _Optional[_Iterable[str]] = ..., quality_score: _Optional[float] = ..., rerun_count: _Optional[int] = ..., segments_meta: _Optional[_Union[SegmentsMeta, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "request_id", "state", "node_id", "attempt_id", "trace_id", "session_id", "utterance_index", "pair", "created_at_ms", "updated_at_ms", "result", "error", "tenant_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    PAIR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    request_id: str
    state: JobState
    node_id: str
    attempt_id: int
    trace_id: str
    session_id: str
    utterance_index: int
    pair: _node_pb2.LanguagePair
    created_at_ms: int
    updated_at_ms: int
    result: JobResult
    error: JobError
    tenant_id: str
    def __init__(self, job_id: _Optional[str] = ..., request_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., node_id: _Optional[str] = ..., attempt_id: _Optional[int] = ..., trace_id: _Optional[str] = ..., session_id: _Optional[str] = ..., utterance_index: _Optional[int] = ..., pair: _Optional[_Union[_node_pb2.LanguagePair, _Mapping]] = ..., created_at_ms: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., tenant_id: _Optional[str] = ...) -> None: ...
