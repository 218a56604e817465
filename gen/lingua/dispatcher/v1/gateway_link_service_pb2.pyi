from lingua.common.v1 import job_pb2 as _job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as _dispatcher_service_pb2
from lingua.gateway.v1 import gateway_service_pb2 as _gateway_service_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LinkRequest(_message.Message):
    __slots__ = ("hello", "batch")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    hello: LinkHello
    batch: GatewayBatch
    def __init__(self, hello: _Optional[_Union[LinkHello, _Mapping]] = ..., batch: _Optional[_Union[GatewayBatch, _Mapping]] = ...) -> None: ...

class LinkHello(_message.Message):
    __slots__ = ("gateway_id", "nodes")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[HeldNode]
    def __init__(self, gateway_id: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[HeldNode, _Mapping]]] = ...) -> None: ...

class HeldNode(_message.Message):
    __slots__ = ("node_id", "epoch", "since_epoch")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SINCE_EPOCH_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    since_epoch: int
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., since_epoch: _Optional[int] = ...) -> None: ...

class GatewayBatch(_message.Message):
    __slots__ = ("messages", "ack", "acked")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[GatewayMessage]
    ack: int
    acked: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, messages: _Optional[_Iterable[_Union[GatewayMessage, _Mapping]]] = ..., ack: _Optional[int] = ..., acked: _Optional[_Iterable[int]] = ...) -> None: ...

class GatewayMessage(_message.Message):
    __slots__ = ("seq", "traceparent", "new_job", "report", "node_held", "node_lost")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    NEW_JOB_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    NODE_HELD_FIELD_NUMBER: _ClassVar[int]
    NODE_LOST_FIELD_NUMBER: _ClassVar[int]
    seq: int
    traceparent: str
    new_job: NewJob
    report: NodeReport
    node_held: HeldNode
    node_lost: HeldNode
    def __init__(self, seq: _Optional[int] = ..., traceparent: _Optional[str] = ..., new_job: _Optional[_Union[NewJob, _Mapping]] = ..., report: _Optional[_Union[NodeReport, _Mapping]] = ..., node_held: _Optional[_Union[HeldNode, _Mapping]] = ..., node_lost: _Optional[_Union[HeldNode, _Mapping]] = ...) -> None: ...

class NewJob(_message.Message):
    __slots__ = ("request_id", "spec", "trace_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    spec: _job_pb2.JobSpec
    trace_id: str
    def __init__(self, request_id: _Optional[str] = ..., spec: _Optional[_Union[_job_pb2.JobSpec, _Mapping]] = ..., trace_id: _Optional[str] = ...) -> None: ...

class NodeReport(_message.Message):
    __slots__ = ("job_id", "node_id", "attempt_id", "progress", "result", "undeliverable")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    UNDELIVERABLE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    node_id: str
    attempt_id: int
    progress: NodeProgress
    result: _job_pb2.JobResult
    undeliverable: Undeliverable
    def __init__(self, job_id: _Optional[str] = ..., node_id: _Optional[str] = ..., attempt_id: _Optional[int] = ..., progress: _Optional[_Union[NodeProgress, _Mapping]] = ..., result: _Optional[_Union[_job_pb2.JobResult, _Mapping]] = ..., undeliverable: _Optional[_Union[Undeliverable, _Mapping]] = ...) -> None: ...

class NodeProgress(_message.Message):
    __slots__ = ("kind", "partial_text", "partial_is_final")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    kind: _dispatcher_service_pb2.JobEventKind
    partial_text: str
    partial_is_final: bool
    def __init__(self, kind: _Optional[_Union[_dispatcher_service_pb2.JobEventKind, str]] = ..., partial_text: _Optional[str] = ..., partial_is_final: _Optional[bool] = ...) -> None: ...

class Undeliverable(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class LinkResponse(_message.Message):
    __slots__ = ("welcome", "batch")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    welcome: LinkWelcome
    batch: DispatcherBatch
    def __init__(self, welcome: _Optional[_Union[LinkWelcome, _Mapping]] = ..., batch: _Optional[_Union[DispatcherBatch, _Mapping]] = ...) -> None: ...

class LinkWelcome(_message.Message):
    __slots__ = ("dispatcher_id",)
    DISPATCHER_ID_FIELD_NUMBER: _ClassVar[int]
    dispatcher_id: str
    def __init__(self, dispatcher_id: _Optional[str] = ...) -> None: ...

class DispatcherBatch(_message.Message):
    __slots__ = ("messages", "ack", "acked")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    ACKED_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[DispatcherMessage]
    ack: int
    acked: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, messages: _Optional[_Iterable[_Union[DispatcherMessage, _Mapping]]] = ..., ack: _Optional[int] = ..., acked: _Optional[_Iterable[int]] = ...) -> None: ...

class DispatcherMessage(_message.Message):
    __slots__ = ("seq", "traceparent", "to_node", "to_session")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TO_NODE_FIELD_NUMBER: _ClassVar[int]
    TO_SESSION_FIELD_NUMBER: _ClassVar[int]
    seq: int
    traceparent: str
    to_node: _gateway_service_pb2.NodeDelivery
    to_session: _gateway_service_pb2.SessionDelivery
    def __init__(self, seq: _Optional[int] = ..., traceparent: _Optional[str] = ..., to_node: _Optional[_Union[_gateway_service_pb2.NodeDelivery, _Mapping]] = ..., to_session: _Optional[_Union[_gateway_service_pb2.SessionDelivery, _Mapping]] = ...) -> None: ...
