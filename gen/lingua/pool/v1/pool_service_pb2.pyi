from lingua.common.v1 import node_pb2 as _node_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpsertNodeRequest(_message.Message):
    __slots__ = ("node_id", "language_capabilities", "ready_service_types", "index_seq")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    READY_SERVICE_TYPES_FIELD_NUMBER: _ClassVar[int]
    INDEX_SEQ_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    language_capabilities: _node_pb2.LanguageCapabilities
    ready_service_types: _containers.RepeatedScalarFieldContainer[str]
    index_seq: int
    def __init__(self, node_id: _Optional[str] = ..., language_capabilities: _Optional[_Union[_node_pb2.LanguageCapabilities, _Mapping]] = ..., ready_service_types: _Optional[_Iterable[str]] = ..., index_seq: _Optional[int] = ...) -> None: ...

class UpsertNodeResponse(_message.Message):
    __slots__ = ("pairs", "index_version", "changed", "stale")
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[_node_pb2.LanguagePair]
    index_version: int
    changed: bool
    stale: bool
    def __init__(self, pairs: _Optional[_Iterable[_Union[_node_pb2.LanguagePair, _Mapping]]] = ..., index_version: _Optional[int] = ..., changed: _Optional[bool] = ..., stale: _Optional[bool] = ...) -> None: ...

class RemoveNodeRequest(_message.Message):
    __slots__ = ("node_id", "index_seq")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_SEQ_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    index_seq: int
    def __init__(self, node_id: _Optional[str] = ..., index_seq: _Optional[int] = ...) -> None: ...

class RemoveNodeResponse(_message.Message):
    __slots__ = ("index_version", "stale")
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    index_version: int
    stale: bool
    def __init__(self, index_version: _Optional[int] = ..., stale: _Optional[bool] = ...) -> None: ...

class IndexEntry(_message.Message):
    __slots__ = ("language_capabilities", "ready_service_types")
    LANGUAGE_CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    READY_SERVICE_TYPES_FIELD_NUMBER: _ClassVar[int]
    language_capabilities: _node_pb2.LanguageCapabilities
    ready_service_types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, language_capabilities: _Optional[_Union[_node_pb2.LanguageCapabilities, _Mapping]] = ..., ready_service_types: _Optional[_Iterable[str]] = ...) -> None: ...

class NodeChange(_message.Message):
    __slots__ = ("node_id", "index_seq", "entry")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_SEQ_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    index_seq: int
    entry: IndexEntry
    def __init__(self, node_id: _Optional[str] = ..., index_seq: _Optional[int] = ..., entry: _Optional[_Union[IndexEntry, _Mapping]] = ...) -> None: ...

class ApplyNodeChangesRequest(_message.Message):
    __slots__ = ("changes",)
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[NodeChange]
    def __init__(self, changes: _Optional[_Iterable[_Union[NodeChange, _Mapping]]] = ...) -> None: ...

class NodeChangeOutcome(_message.Message):
    __slots__ = ("node_id", "changed", "stale")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    changed: bool
    stale: bool
    def __init__(self, node_id: _Optional[str] = ..., changed: _Optional[bool] = ..., stale: _Optional[bool] = ...) -> None: ...

class ApplyNodeChangesResponse(_message.Message):
    __slots__ = ("outcomes", "index_version")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[NodeChangeOutcome]
    index_version: int
    def __init__(self, outcomes: _Optional[_Iterable[_Union[NodeChangeOutcome, _Mapping]]] = ..., index_version: _Optional[int] = ...) -> None: ...

class FindCandidatesRequest(_message.Message):
    __slots__ = ("pair", "required_service_types", "exclude_node_ids", "limit", "preferred_pool_id", "both_directions")
    PAIR_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SERVICE_TYPES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PREFERRED_POOL_ID_FIELD_NUMBER: _ClassVar[int]
    BOTH_DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    pair: _node_pb2.LanguagePair
    required_service_types: _containers.RepeatedScalarFieldContainer[str]
    exclude_node_ids: _containers.RepeatedScalarFieldContainer[str]
    limit: int
    preferred_pool_id: str
    both_directions: bool
    def __init__(self, pair: _Optional[_Union[_node_pb2.LanguagePair, _Mapping]] = ..., required_service_types: _Optional[_Iterable[str]] = ..., exclude_node_ids: _Optional[_Iterable[str]] = ..., limit: _Optional[int] = ..., preferred_pool_id: _Optional[str] = ..., both_directions: _Optional[bool] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("node_id", "pool_id")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    pool_id: str
    def __init__(self, node_id: _Optional[str] = ..., pool_id: _Optional[str] = ...) -> None: ...

class FindCandidatesResponse(_message.Message):
    __slots__ = ("candidates", "index_version")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[Candidate]
    index_version: int
    def __init__(self, candidates: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., index_version: _Optional[int] = ...) -> None: ...

class Pool(_message.Message):
    __slots__ = ("pool_id", "pair", "node_ids")
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    PAIR_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    pair: _node_pb2.LanguagePair
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pool_id: _Optional[str] = ..., pair: _Optional[_Union[_node_pb2.LanguagePair, _Mapping]] = ..., node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetPoolRequest(_message.Message):
    __slots__ = ("pool_id",)
    POOL_ID_FIELD_NUMBER: _ClassVar[int]
    pool_id: str
    def __init__(self, pool_id: _Optional[str] = ...) -> None: ...

class GetPoolResponse(_message.Message):
    __slots__ = ("pool",)
    POOL_FIELD_NUMBER: _ClassVar[int]
    pool: Pool
    def __init__(self, pool: _Optional[_Union[Pool, _Mapping]] = ...) -> None: ...

class ListPoolsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPoolsResponse(_message.Message):
    __slots__ = ("pools", "next_page_token", "index_version")
    POOLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    pools: _containers.RepeatedCompositeFieldContainer[Pool]
    next_page_token: str
    index_version: int
    def __init__(self, pools: _Optional[_Iterable[_Union[Pool, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., index_version: _Optional[int] = ...) -> None: ...

class WatchIndexRequest(_message.Message):
    __slots__ = ("after_version",)
    AFTER_VERSION_FIELD_NUMBER: _ClassVar[int]
    after_version: int
    def __init__(self, after_version: _Optional[int] = ...) -> None: ...

class WatchIndexResponse(_message.Message):
    __slots__ = ("index_version", "node_id", "pairs", "ready_service_types", "reset", "synced")
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    READY_SERVICE_TYPES_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    index_version: int
    node_id: str
    pairs: _containers.RepeatedCompositeFieldContainer[_node_pb2.LanguagePair]
    ready_service_types: _containers.RepeatedScalarFieldContainer[str]
    reset: bool
    synced: bool
    def __init__(self, index_version: _Optional[int] = ..., node_id: _Optional[str] = ..., pairs: _Optional[_Iterable[_Union[_node_pb2.LanguagePair, _Mapping]]] = ..., ready_service_types: _Optional[_Iterable[str]] = ..., reset: _Optional[bool] = ..., synced: _Optional[bool] = ...) -> None: ...
