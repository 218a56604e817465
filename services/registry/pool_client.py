"""The pool-index service reached over gRPC (the registry's PoolIndexer)."""

from __future__ import annotations

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from services.registry.index_sync import IndexUpdate

CALL_TIMEOUT_S = 5.0


def _change(update: IndexUpdate) -> pool_pb.NodeChange:
    change = pool_pb.NodeChange(node_id=update.node_id, index_seq=update.index_seq)
    if update.language_caps is not None:
        change.entry.SetInParent()  # present even with no languages: kept, not removed
        change.entry.language_capabilities.CopyFrom(update.language_caps)
        change.entry.ready_service_types.extend(update.ready_types)
    return change


class GrpcPoolIndexer:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pool_grpc.PoolServiceStub(channel)

    async def upsert(
        self,
        node_id: str,
        language_caps: node_pb2.LanguageCapabilities,
        ready_types: list[str],
        index_seq: int,
    ) -> None:
        await self._stub.UpsertNode(
            pool_pb.UpsertNodeRequest(
                node_id=node_id,
                language_capabilities=language_caps,
                ready_service_types=ready_types,
                index_seq=index_seq,
            ),
            timeout=CALL_TIMEOUT_S,
        )

    async def remove(self, node_id: str, index_seq: int) -> None:
        await self._stub.RemoveNode(
            pool_pb.RemoveNodeRequest(node_id=node_id, index_seq=index_seq),
            timeout=CALL_TIMEOUT_S,
        )

    async def apply(self, updates: list[IndexUpdate]) -> None:
        await self._stub.ApplyNodeChanges(
            pool_pb.ApplyNodeChangesRequest(changes=[_change(u) for u in updates]),
            timeout=CALL_TIMEOUT_S,
        )
