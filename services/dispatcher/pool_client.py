"""Candidate lookup in the pool-index service."""

from __future__ import annotations

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc

CALL_TIMEOUT_S = 2.0


class GrpcCandidateFinder:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pool_grpc.PoolServiceStub(channel)

    async def find(
        self, src: str, tgt: str, required: list[str], exclude: list[str], limit: int
    ) -> list[str]:
        reply = await self._stub.FindCandidates(
            pool_pb.FindCandidatesRequest(
                pair=node_pb2.LanguagePair(src=src, tgt=tgt),
                required_service_types=required,
                exclude_node_ids=exclude,
                limit=limit,
            ),
            timeout=CALL_TIMEOUT_S,
        )
        return [c.node_id for c in reply.candidates]
