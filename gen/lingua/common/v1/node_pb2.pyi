from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_WINDOWS: _ClassVar[Platform]
    PLATFORM_LINUX: _ClassVar[Platform]
    PLATFORM_MACOS: _ClassVar[Platform]

class NmtRule(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NMT_RULE_UNSPECIFIED: _ClassVar[NmtRule]
    NMT_RULE_ANY_TO_ANY: _ClassVar[NmtRule]
    NMT_RULE_ANY_TO_EN: _ClassVar[NmtRule]
    NMT_RULE_EN_TO_ANY: _ClassVar[NmtRule]
    NMT_RULE_SPECIFIC_PAIRS: _ClassVar[NmtRule]

class NodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATUS_UNSPECIFIED: _ClassVar[NodeStatus]
    NODE_STATUS_REGISTERING: _ClassVar[NodeStatus]
    NODE_STATUS_READY: _ClassVar[NodeStatus]
    NODE_STATUS_DEGRADED: _ClassVar[NodeStatus]
    NODE_STATUS_DRAINING: _ClassVar[NodeStatus]
    NODE_STATUS_OFFLINE: _ClassVar[NodeStatus]
PLATFORM_UNSPECIFIED: Platform
PLATFORM_WINDOWS: Platform
PLATFORM_LINUX: Platform
PLATFORM_MACOS: Platform
NMT_RULE_UNSPECIFIED: NmtRule
NMT_RULE_ANY_TO_ANY: NmtRule
NMT_RULE_ANY_TO_EN: NmtRule
NMT_RULE_EN_TO_ANY: NmtRule
NMT_RULE_SPECIFIC_PAIRS: NmtRule
NODE_STATUS_UNSPECIFIED: NodeStatus
NODE_STATUS_REGISTERING: NodeStatus
NODE_STATUS_READY: NodeStatus
NODE_STATUS_DEGRADED: NodeStatus
NODE_STATUS_DRAINING: NodeStatus
NODE_STATUS_OFFLINE: NodeStatus

class NodeDescriptor(_message.Message):
    __slots__ = ("version", "platform", "hardware", "installed_models", "installed_services", "capability_by_type", "features_supported", "accept_public_jobs", "capability_schema_version", "advanced_features", "language_capabilities")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    HARDWARE_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_MODELS_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_SERVICES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_SUPPORTED_FIELD_NUMBER: _ClassVar[int]
    ACCEPT_PUBLIC_JOBS_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ADVANCED_FEATURES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    version: str
    platform: Platform
    hardware: Hardware
    installed_models: _containers.RepeatedCompositeFieldContainer[InstalledModel]
    installed_services: _containers.RepeatedCompositeFieldContainer[InstalledService]
    capability_by_type: _containers.RepeatedCompositeFieldContainer[CapabilityByType]
    features_supported: FeatureFlags
    accept_public_jobs: bool
    capability_schema_version: str
    advanced_features: _containers.RepeatedScalarFieldContainer[str]
    language_capabilities: LanguageCapabilities
    def __init__(self, version: _Optional[str] = ..., platform: _Optional[_Union[Platform, str]] = ..., hardware: _Optional[_Union[Hardware, _Mapping]] = ..., installed_models: _Optional[_Iterable[_Union[InstalledModel, _Mapping]]] = ..., installed_services: _Optional[_Iterable[_Union[InstalledService, _Mapping]]] = ..., capability_by_type: _Optional[_Iterable[_Union[CapabilityByType, _Mapping]]] = ..., features_supported: _Optional[_Union[FeatureFlags, _Mapping]] = ..., accept_public_jobs: _Optional[bool] = ..., capability_schema_version: _Optional[str] = ..., advanced_features: _Optional[_Iterable[str]] = ..., language_capabilities: _Optional[_Union[LanguageCapabilities, _Mapping]] = ...) -> None: ...

class Gpu(_message.Message):
    __slots__ = ("name", "memory_gb")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GB_FIELD_NUMBER: _ClassVar[int]
    name: str
    memory_gb: int
    def __init__(self, name: _Optional[str] = ..., memory_gb: _Optional[int] = ...) -> None: ...

class Hardware(_message.Message):
    __slots__ = ("cpu_cores", "memory_gb", "gpus")
    CPU_CORES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_GB_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    cpu_cores: int
    memory_gb: int
    gpus: _containers.RepeatedCompositeFieldContainer[Gpu]
    def __init__(self, cpu_cores: _Optional[int] = ..., memory_gb: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[Gpu, _Mapping]]] = ...) -> None: ...

class InstalledModel(_message.Message):
    __slots__ = ("model_id", "kind", "version", "src_lang", "tgt_lang", "dialect", "enabled")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SRC_LANG_FIELD_NUMBER: _ClassVar[int]
    TGT_LANG_FIELD_NUMBER: _ClassVar[int]
    DIALECT_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    kind: str
    version: str
    src_lang: str
    tgt_lang: str
    dialect: str
    enabled: bool
    def __init__(self, model_id: _Optional[str] = ..., kind: _Optional[str] = ..., version: _Optional[str] = ..., src_lang: _Optional[str] = ..., tgt_lang: _Optional[str] = ..., dialect: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class InstalledService(_message.Message):
    __slots__ = ("service_id", "type", "device", "status", "version", "model_id", "engine", "mem_mb", "warmup_ms", "last_error")
    SERVICE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MEM_MB_FIELD_NUMBER: _ClassVar[int]
    WARMUP_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    service_id: str
    type: str
    device: str
    status: str
    version: str
    model_id: str
    engine: str
    mem_mb: int
    warmup_ms: int
    last_error: str
    def __init__(self, service_id: _Optional[str] = ..., type: _Optional[str] = ..., device: _Optional[str] = ..., status: _Optional[str] = ..., version: _Optional[str] = ..., model_id: _Optional[str] = ..., engine: _Optional[str] = ..., mem_mb: _Optional[int] = ..., warmup_ms: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class CapabilityByType(_message.Message):
    __slots__ = ("type", "ready", "reason", "ready_impl_ids")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    READY_IMPL_IDS_FIELD_NUMBER: _ClassVar[int]
    type: str
    ready: bool
    reason: str
    ready_impl_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, type: _Optional[str] = ..., ready: _Optional[bool] = ..., reason: _Optional[str] = ..., ready_impl_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class FeatureFlags(_message.Message):
    __slots__ = ("emotion_detection", "voice_style_detection", "speech_rate_detection", "speech_rate_control", "speaker_identification", "persona_adaptation")
    EMOTION_DETECTION_FIELD_NUMBER: _ClassVar[int]
    VOICE_STYLE_DETECTION_FIELD_NUMBER: _ClassVar[int]
    SPEECH_RATE_DETECTION_FIELD_NUMBER: _ClassVar[int]
    SPEECH_RATE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_IDENTIFICATION_FIELD_NUMBER: _ClassVar[int]
    PERSONA_ADAPTATION_FIELD_NUMBER: _ClassVar[int]
    emotion_detection: bool
    voice_style_detection: bool
    speech_rate_detection: bool
    speech_rate_control: bool
    speaker_identification: bool
    persona_adaptation: bool
    def __init__(self, emotion_detection: _Optional[bool] = ..., voice_style_detection: _Optional[bool] = ..., speech_rate_detection: _Optional[bool] = ..., speech_rate_control: _Optional[bool] = ..., speaker_identification: _Optional[bool] = ..., persona_adaptation: _Optional[bool] = ...) -> None: ...

class NmtCapability(_message.Message):
    __slots__ = ("model_id", "languages", "rule", "blocked_pairs", "supported_pairs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_PAIRS_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_PAIRS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    languages: _containers.RepeatedScalarFieldContainer[str]
    rule: NmtRule
    blocked_pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    supported_pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    def __init__(self, model_id: _Optional[str] = ..., languages: _Optional[_Iterable[str]] = ..., rule: _Optional[_Union[NmtRule, str]] = ..., blocked_pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ..., supported_pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ...) -> None: ...

class LanguageCapabilities(_message.Message):
    __slots__ = ("asr_languages", "tts_languages", "semantic_languages", "semantic_core_ready", "nmt_capabilities")
    ASR_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    TTS_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_LANGUAGES_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_CORE_READY_FIELD_NUMBER: _ClassVar[int]
    NMT_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    asr_languages: _containers.RepeatedScalarFieldContainer[str]
    tts_languages: _containers.RepeatedScalarFieldContainer[str]
    semantic_languages: _containers.RepeatedScalarFieldContainer[str]
    semantic_core_ready: bool
    nmt_capabilities: _containers.RepeatedCompositeFieldContainer[NmtCapability]
    def __init__(self, asr_languages: _Optional[_Iterable[str]] = ..., tts_languages: _Optional[_Iterable[str]] = ..., semantic_languages: _Optional[_Iterable[str]] = ..., semantic_core_ready: _Optional[bool] = ..., nmt_capabilities: _Optional[_Iterable[_Union[NmtCapability, _Mapping]]] = ...) -> None: ...

class LanguagePair(_message.Message):
    __slots__ = ("src", "tgt")
    SRC_FIELD_NUMBER: _ClassVar[int]
    TGT_FIELD_NUMBER: _ClassVar[int]
    src: str
    tgt: str
    def __init__(self, src: _Optional[str] = ..., tgt: _Optional[str] = ...) -> None: ...

class ResourceUsage(_message.Message):
    __slots__ = ("cpu_percent", "mem_percent", "running_jobs", "gpu_percent", "gpu_mem_percent")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    GPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    GPU_MEM_PERCENT_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    mem_percent: float
    running_jobs: int
    gpu_percent: float
    gpu_mem_percent: float
    def __init__(self, cpu_percent: _Optional[float] = ..., mem_percent: _Optional[float] = ..., running_jobs: _Optional[int] = ..., gpu_percent: _Optional[float] = ..., gpu_mem_percent: _Optional[float] = ...) -> None: ...

class Node(_message.Message):
    __slots__ = ("node_id", "epoch", "status", "status_reason", "gateway_id", "descriptor", "resource_usage", "running_jobs", "max_jobs", "registered_at_ms", "last_heartbeat_ms", "pairs", "history", "not_serving")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_MS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    NOT_SERVING_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    status: NodeStatus
    status_reason: str
    gateway_id: str
    descriptor: NodeDescriptor
    resource_usage: ResourceUsage
    running_jobs: int
    max_jobs: int
    registered_at_ms: int
    last_heartbeat_ms: int
    pairs: _containers.RepeatedCompositeFieldContainer[LanguagePair]
    history: _containers.RepeatedScalarFieldContainer[str]
    not_serving: str
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., status: _Optional[_Union[NodeStatus, str]] = ..., status_reason: _Optional[str] = ..., gateway_id: _Optional[str] = ..., descriptor: _Optional[_Union[NodeDescriptor, _Mapping]] = ..., resource_usage: _Optional[_Union[ResourceUsage, _Mapping]] = ..., running_jobs: _Optional[int] = ..., max_jobs: _Optional[int] = ..., registered_at_ms: _Optional[int] = ..., last_heartbeat_ms: _Optional[int] = ..., pairs: _Optional[_Iterable[_Union[LanguagePair, _Mapping]]] = ..., history: _Optional[_Iterable[str]] = ..., not_serving: _Optional[str] = ...) -> None: ...
