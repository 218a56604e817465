from lingua.common.v1 import job_pb2 as _job_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DisconnectNodeRequest(_message.Message):
    __slots__ = ("node_id", "epoch", "reason")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    reason: str
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DisconnectNodeResponse(_message.Message):
    __slots__ = ("disconnected",)
    DISCONNECTED_FIELD_NUMBER: _ClassVar[int]
    disconnected: bool
    def __init__(self, disconnected: _Optional[bool] = ...) -> None: ...

class JobCancel(_message.Message):
    __slots__ = ("job_id", "trace_id", "reason")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    trace_id: str
    reason: str
    def __init__(self, job_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NodeControl(_message.Message):
    __slots__ = ("command", "reason")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    command: str
    reason: str
    def __init__(self, command: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NodeDelivery(_message.Message):
    __slots__ = ("node_id", "epoch", "job_assign", "job_cancel", "node_control")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    JOB_ASSIGN_FIELD_NUMBER: _ClassVar[int]
    JOB_CANCEL_FIELD_NUMBER: _ClassVar[int]
    NODE_CONTROL_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    job_assign: _job_pb2.JobAssignment
    job_cancel: JobCancel
    node_control: NodeControl
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., job_assign: _Optional[_Union[_job_pb2.JobAssignment, _Mapping]] = ..., job_cancel: _Optional[_Union[JobCancel, _Mapping]] = ..., node_control: _Optional[_Union[NodeControl, _Mapping]] = ...) -> None: ...

class UtteranceOutcome(_message.Message):
    __slots__ = ("result", "error", "dispatched_at_ms")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DISPATCHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    result: _job_pb2.JobResult
    error: _job_pb2.JobError
    dispatched_at_ms: int
    def __init__(self, result: _Optional[_Union[_job_pb2.JobResult, _Mapping]] = ..., error: _Optional[_Union[_job_pb2.JobError, _Mapping]] = ..., dispatched_at_ms: _Optional[int] = ...) -> None: ...

class AsrPartial(_message.Message):
    __slots__ = ("text", "is_final")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    text: str
    is_final: bool
    def __init__(self, text: _Optional[str] = ..., is_final: _Optional[bool] = ...) -> None: ...

class UiEvent(_message.Message):
    __slots__ = ("event", "is_error", "elapsed_ms", "error_code", "hint")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    event: str
    is_error: bool
    elapsed_ms: int
    error_code: str
    hint: str
    def __init__(self, event: _Optional[str] = ..., is_error: _Optional[bool] = ..., elapsed_ms: _Optional[int] = ..., error_code: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class SessionDelivery(_message.Message):
    __slots__ = ("job", "outcome", "asr_partial", "ui_event")
    JOB_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ASR_PARTIAL_FIELD_NUMBER: _ClassVar[int]
    UI_EVENT_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.JobRef
    outcome: UtteranceOutcome
    asr_partial: AsrPartial
    ui_event: UiEvent
    def __init__(self, job: _Optional[_Union[_job_pb2.JobRef, _Mapping]] = ..., outcome: _Optional[_Union[UtteranceOutcome, _Mapping]] = ..., asr_partial: _Optional[_Union[AsrPartial, _Mapping]] = ..., ui_event: _Optional[_Union[UiEvent, _Mapping]] = ...) -> None: ...

class DeliverToNodeRequest(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: NodeDelivery
    def __init__(self, delivery: _Optional[_Union[NodeDelivery, _Mapping]] = ...) -> None: ...

class DeliverToNodeResponse(_message.Message):
    __slots__ = ("delivered",)
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    def __init__(self, delivered: _Optional[bool] = ...) -> None: ...

class DeliverToSessionRequest(_message.Message):
    __slots__ = ("delivery",)
    DELIVERY_FIELD_NUMBER: _ClassVar[int]
    delivery: SessionDelivery
    def __init__(self, delivery: _Optional[_Union[SessionDelivery, _Mapping]] = ...) -> None: ...

class DeliverToSessionResponse(_message.Message):
    __slots__ = ("delivered",)
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    def __init__(self, delivered: _Optional[bool] = ...) -> None: ...
