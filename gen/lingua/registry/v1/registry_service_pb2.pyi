from lingua.common.v1 import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_EVENT_KIND_UNSPECIFIED: _ClassVar[NodeEventKind]
    NODE_EVENT_KIND_REGISTERED: _ClassVar[NodeEventKind]
    NODE_EVENT_KIND_STATUS_CHANGED: _ClassVar[NodeEventKind]
    NODE_EVENT_KIND_OFFLINE: _ClassVar[NodeEventKind]
NODE_EVENT_KIND_UNSPECIFIED: NodeEventKind
NODE_EVENT_KIND_REGISTERED: NodeEventKind
NODE_EVENT_KIND_STATUS_CHANGED: NodeEventKind
NODE_EVENT_KIND_OFFLINE: NodeEventKind

class RegisterNodeRequest(_message.Message):
    __slots__ = ("node_id", "descriptor", "gateway_id", "credential_fingerprint")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    descriptor: _node_pb2.NodeDescriptor
    gateway_id: str
    credential_fingerprint: str
    def __init__(self, node_id: _Optional[str] = ..., descriptor: _Optional[_Union[_node_pb2.NodeDescriptor, _Mapping]] = ..., gateway_id: _Optional[str] = ..., credential_fingerprint: _Optional[str] = ...) -> None: ...

class ReclaimNodesRequest(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[ReclaimedNode]
    def __init__(self, nodes: _Optional[_Iterable[_Union[ReclaimedNode, _Mapping]]] = ...) -> None: ...

class ReclaimedNode(_message.Message):
    __slots__ = ("node_id", "epoch", "descriptor", "gateway_id", "credential_fingerprint")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTOR_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    descriptor: _node_pb2.NodeDescriptor
    gateway_id: str
    credential_fingerprint: str
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., descriptor: _Optional[_Union[_node_pb2.NodeDescriptor, _Mapping]] = ..., gateway_id: _Optional[str] = ..., credential_fingerprint: _Optional[str] = ...) -> None: ...

class ReclaimNodesResponse(_message.Message):
    __slots__ = ("reclaimed",)
    RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    reclaimed: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, reclaimed: _Optional[_Iterable[bool]] = ...) -> None: ...

class RegisterNodeResponse(_message.Message):
    __slots__ = ("node_id", "epoch", "status", "not_serving")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NOT_SERVING_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    status: _node_pb2.NodeStatus
    not_serving: str
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ..., not_serving: _Optional[str] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("node_id", "epoch", "resource_usage", "installed_services", "capability_by_type", "installed_models", "language_capabilities")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_SERVICES_FIELD_NUMBER: _ClassVar[int]
    CAPABILITY_BY_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_MODELS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    resource_usage: _node_pb2.ResourceUsage
    installed_services: _containers.RepeatedCompositeFieldContainer[_node_pb2.InstalledService]
    capability_by_type: _containers.RepeatedCompositeFieldContainer[_node_pb2.CapabilityByType]
    installed_models: _containers.RepeatedCompositeFieldContainer[_node_pb2.InstalledModel]
    language_capabilities: _node_pb2.LanguageCapabilities
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., resource_usage: _Optional[_Union[_node_pb2.ResourceUsage, _Mapping]] = ..., installed_services: _Optional[_Iterable[_Union[_node_pb2.InstalledService, _Mapping]]] = ..., capability_by_type: _Optional[_Iterable[_Union[_node_pb2.CapabilityByType, _Mapping]]] = ..., installed_models: _Optional[_Iterable[_Union[_node_pb2.InstalledModel, _Mapping]]] = ..., language_capabilities: _Optional[_Union[_node_pb2.LanguageCapabilities, _Mapping]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _node_pb2.NodeStatus
    def __init__(self, status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ...) -> None: ...

class StreamHeartbeatsRequest(_message.Message):
    __slots__ = ("batch_id", "beats")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    BEATS_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    beats: _containers.RepeatedCompositeFieldContainer[HeartbeatRequest]
    def __init__(self, batch_id: _Optional[int] = ..., beats: _Optional[_Iterable[_Union[HeartbeatRequest, _Mapping]]] = ...) -> None: ...

class StreamHeartbeatsResponse(_message.Message):
    __slots__ = ("batch_id", "outcomes")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    batch_id: int
    outcomes: _containers.RepeatedCompositeFieldContainer[HeartbeatOutcome]
    def __init__(self, batch_id: _Optional[int] = ..., outcomes: _Optional[_Iterable[_Union[HeartbeatOutcome, _Mapping]]] = ...) -> None: ...

class HeartbeatOutcome(_message.Message):
    __slots__ = ("status", "error_code", "error_message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: _node_pb2.NodeStatus
    error_code: str
    error_message: str
    def __init__(self, status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class DeregisterNodeRequest(_message.Message):
    __slots__ = ("node_id", "epoch", "reason")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    epoch: int
    reason: str
    def __init__(self, node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class DeregisterNodeResponse(_message.Message):
    __slots__ = ("applied",)
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    def __init__(self, applied: _Optional[bool] = ...) -> None: ...

class DrainNodeRequest(_message.Message):
    __slots__ = ("node_id", "reason")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    reason: str
    def __init__(self, node_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainNodeResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _node_pb2.NodeStatus
    def __init__(self, status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ...) -> None: ...

class GetNodeRequest(_message.Message):
    __slots__ = ("node_id",)
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    def __init__(self, node_id: _Optional[str] = ...) -> None: ...

class GetNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: _node_pb2.Node
    def __init__(self, node: _Optional[_Union[_node_pb2.Node, _Mapping]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: _node_pb2.NodeStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes", "next_page_token")
    NODES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_node_pb2.Node]
    next_page_token: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[_node_pb2.Node, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchNodesRequest(_message.Message):
    __slots__ = ("after_event_id",)
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_event_id: str
    def __init__(self, after_event_id: _Optional[str] = ...) -> None: ...

class WatchNodesResponse(_message.Message):
    __slots__ = ("event_id", "kind", "node_id", "epoch", "status", "reason", "at_ms")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    kind: NodeEventKind
    node_id: str
    epoch: int
    status: _node_pb2.NodeStatus
    reason: str
    at_ms: int
    def __init__(self, event_id: _Optional[str] = ..., kind: _Optional[_Union[NodeEventKind, str]] = ..., node_id: _Optional[str] = ..., epoch: _Optional[int] = ..., status: _Optional[_Union[_node_pb2.NodeStatus, str]] = ..., reason: _Optional[str] = ..., at_ms: _Optional[int] = ...) -> None: ...
