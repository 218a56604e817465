"""The dispatcher's local copy of the language index, fed by PoolService.WatchIndex.

Selection reads it without a network hop. After a lost stream it resumes by version
(the pool replays what it missed, or sends a fresh snapshot), and while it is not in
sync, or when it finds nobody, the pool service itself is asked: a stale copy can cost
a hop, never a false "no node" (the original's stale cache did exactly that).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import grpc
from opentelemetry import trace

from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua_common.cancellation import reraise_if_cancelling
from lingua_common.language_index import LanguageIndex, NodeEntry, parse_pool_id, pool_id
from lingua_common.routes import route_keys_served
from lingua_common.telemetry import names
from services.dispatcher.errors import DependencyDown
from services.dispatcher.pool_client import Candidate, CandidateFinder

logger = logging.getLogger(__name__)

RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 2.0


class IndexReplica:
    def __init__(self, channel: grpc.aio.Channel, index: LanguageIndex | None = None) -> None:
        self._stub = pool_grpc.PoolServiceStub(channel)
        self.index = index or LanguageIndex()
        self.synced = False

    async def run(self) -> None:
        delay = RETRY_INITIAL_S
        while True:
            try:
                stream = self._stub.WatchIndex(
                    pool_pb.WatchIndexRequest(after_version=self.index.version)
                )
                async for message in stream:
                    self._apply(message)
                    if self.synced:
                        delay = RETRY_INITIAL_S
            except grpc.aio.AioRpcError as error:
                reraise_if_cancelling()  # shutting down, not a lost feed
                logger.warning("index feed lost; resyncing", extra={"code": str(error.code())})
            self.synced = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)

    def _apply(self, message: pool_pb.WatchIndexResponse) -> None:
        if message.reset:
            self.synced = False
            self.index.clear()
            return
        if message.synced:
            self.index.version = max(self.index.version, message.index_version)
            self.synced = True
            return
        entry = None
        if message.pairs:
            entry = NodeEntry(
                pairs=frozenset((p.src, p.tgt) for p in message.pairs),
                ready=frozenset(message.ready_service_types),
            )
        self.index.apply(message.node_id, entry, message.index_version)


class IndexView(Protocol):
    """An in-memory index and whether it is in step with the pool service's."""

    index: LanguageIndex
    synced: bool


class ReplicatedCandidateFinder:
    """Candidates from the local replica; the pool service when the replica cannot say."""

    def __init__(self, replica: IndexView, authority: CandidateFinder) -> None:
        self._replica = replica
        self._authority = authority

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
        """`both_ways`: nodes serving src <-> tgt in both directions (a two-way job).

        The replica answers when it is in step and finds someone; otherwise the pool
        service does. Should the pool service be unreachable, the replica's last state
        stands in (stale, but a slot reservation checks every node in Redis); with no
        state at all, DependencyDown."""
        local = self._from_replica(src, tgt, required, exclude, limit, preferred_pool, both_ways)
        span = trace.get_current_span()
        if self._replica.synced and local:
            span.set_attribute(names.SELECT_SOURCE, "replica")
            return local
        span.set_attribute(names.SELECT_SOURCE, "pool_service")
        try:
            return await self._authority.find(
                src, tgt, required, exclude, limit, preferred_pool, both_ways
            )
        except grpc.aio.AioRpcError as error:
            reraise_if_cancelling()
            if local or self._replica.index.node_ids():
                span.set_attribute(names.SELECT_SOURCE, "replica_stale")
                logger.warning(
                    "pool service unreachable: placing from this replica's copy of the index",
                    extra={"code": str(error.code()), "synced": self._replica.synced},
                )
                return local
            raise DependencyDown(
                "the pool index service is unreachable and this dispatcher holds no copy "
                "of the index yet; retry shortly"
            ) from None

    def _from_replica(
        self,
        src: str,
        tgt: str,
        required: list[str],
        exclude: list[str],
        limit: int,
        preferred_pool: str,
        both_ways: bool,
    ) -> list[Candidate]:
        index = self._replica.index
        pair = (min(src, tgt), max(src, tgt)) if both_ways else (src, tgt)
        parsed = parse_pool_id(preferred_pool, both_ways) if preferred_pool else None
        shard = parsed[1] if parsed is not None and parsed[0] == pair else None
        found = index.candidates(pair, required, exclude, limit, shard, both_ways=both_ways)
        return [
            Candidate(n, pool_id(pair, index.shard_of(pair, n, both_ways), both_ways))
            for n in found
        ]

    def pairs_of(self, node_id: str) -> frozenset[tuple[str, str]]:
        """The route keys the node serves (lingua_common/routes.py): its directed pairs,
        and its two-way pairs, so jobs waiting on either hear of its free slots."""
        entry = self._replica.index.entry(node_id)
        return route_keys_served(entry.pairs) if entry else frozenset()
