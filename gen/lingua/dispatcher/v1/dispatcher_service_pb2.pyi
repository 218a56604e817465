from lingua.common.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_EVENT_KIND_UNSPECIFIED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_DISPATCHED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_ACCEPTED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_STARTED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_ASR_PARTIAL: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_COMPLETED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_FAILED: _ClassVar[JobEventKind]
    JOB_EVENT_KIND_CANCELLED: _ClassVar[JobEventKind]
JOB_EVENT_KIND_UNSPECIFIED: JobEventKind
JOB_EVENT_KIND_DISPATCHED: JobEventKind
JOB_EVENT_KIND_ACCEPTED: JobEventKind
JOB_EVENT_KIND_STARTED: JobEventKind
JOB_EVENT_KIND_ASR_PARTIAL: JobEventKind
JOB_EVENT_KIND_COMPLETED: JobEventKind
JOB_EVENT_KIND_FAILED: JobEventKind
JOB_EVENT_KIND_CANCELLED: JobEventKind

class SubmitJobRequest(_message.Message):
    __slots__ = ("request_id", "tenant_id", "audio", "audio_format", "sample_rate", "src_lang", "tgt_lang", "pipeline", "fail_fast", "mode", "lang_a", "lang_b", "auto_langs")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    SRC_LANG_FIELD_NUMBER: _ClassVar[int]
    TGT_LANG_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    FAIL_FAST_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    LANG_A_FIELD_NUMBER: _ClassVar[int]
    LANG_B_FIELD_NUMBER: _ClassVar[int]
    AUTO_LANGS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    tenant_id: str
    audio: bytes
    audio_format: str
    sample_rate: int
    src_lang: str
    tgt_lang: str
    pipeline: _job_pb2.Pipeline
    fail_fast: bool
    mode: _job_pb2.TranslationMode
    lang_a: str
    lang_b: str
    auto_langs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., audio: _Optional[bytes] = ..., audio_format: _Optional[str] = ..., sample_rate: _Optional[int] = ..., src_lang: _Optional[str] = ..., tgt_lang: _Optional[str] = ..., pipeline: _Optional[_Union[_job_pb2.Pipeline, _Mapping]] = ..., fail_fast: _Optional[bool] = ..., mode: _Optional[_Union[_job_pb2.TranslationMode, str]] = ..., lang_a: _Optional[str] = ..., lang_b: _Optional[str] = ..., auto_langs: _Optional[_Iterable[str]] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job", "created")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    created: bool
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("state", "node_id", "session_id", "page_size", "page_token")
    STATE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    state: _job_pb2.JobState
    node_id: str
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, state: _Optional[_Union[_job_pb2.JobState, str]] = ..., node_id: _Optional[str] = ..., session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[_job_pb2.Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[_job_pb2.Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class WatchJobResponse(_message.Message):
    __slots__ = ("kind", "job", "partial_text", "partial_is_final")
    KIND_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    kind: JobEventKind
    job: _job_pb2.Job
    partial_text: str
    partial_is_final: bool
    def __init__(self, kind: _Optional[_Union[JobEventKind, str]] = ..., job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., partial_text: _Optional[str] = ..., partial_is_final: _Optional[bool] = ...) -> None: ...
