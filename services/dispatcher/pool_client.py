"""Candidate lookup in the pool-index service (the authority behind the local replica)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc

CALL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Candidate:
    node_id: str
    pool_id: str


class CandidateFinder(Protocol):
    """Who can run a job: a sample of the nodes serving its route."""

    async def find(
        self,
        src: str,
        tgt: str,
        required: list[str],
        exclude: list[str],
        limit: int,
        preferred_pool: str = "",
        both_ways: bool = False,
    ) -> list[Candidate]: ...


class GrpcCandidateFinder:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pool_grpc.PoolServiceStub(channel)

    async def find(
        self,
        src: str,
        tgt: str,
        required: list[str],
        exclude: list[str],
        limit: int,
        preferred_pool: str = "",
        both_ways: bool = False,
    ) -> list[Candidate]:
        reply = await self._stub.FindCandidates(
            pool_pb.FindCandidatesRequest(
                pair=node_pb2.LanguagePair(src=src, tgt=tgt),
                required_service_types=required,
                exclude_node_ids=exclude,
                limit=limit,
                preferred_pool_id=preferred_pool,
                both_directions=both_ways,
            ),
            timeout=CALL_TIMEOUT_S,
        )
        return [Candidate(c.node_id, c.pool_id) for c in reply.candidates]
