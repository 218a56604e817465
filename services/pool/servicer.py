"""gRPC PoolService: proto <-> domain."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pb
from lingua.pool.v1 import pool_service_pb2_grpc as pb_grpc
from lingua_common.grpc_app import Context
from lingua_common.language_index import Pair, parse_pool_id, pool_id
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer
from services.pool.domain import IndexChange, NodeUpdate, PoolDirectory, ResyncRequired

tracer = get_tracer(__name__)

DEFAULT_CANDIDATES = 8
MAX_CANDIDATES = 64
MAX_PAGE_SIZE = 500
MAX_CHANGES_PER_CALL = 1_000


def _pairs_pb(pairs: frozenset[Pair] | list[Pair]) -> list[node_pb2.LanguagePair]:
    return [node_pb2.LanguagePair(src=s, tgt=t) for s, t in sorted(pairs)]


def _change_pb(change: IndexChange) -> pb.WatchIndexResponse:
    entry = change.entry
    return pb.WatchIndexResponse(
        index_version=change.version,
        node_id=change.node_id,
        pairs=_pairs_pb(entry.pairs) if entry else [],
        ready_service_types=sorted(entry.ready) if entry else [],
    )


class PoolServicer(pb_grpc.PoolServiceServicer):
    def __init__(self, directory: PoolDirectory) -> None:
        self._directory = directory

    async def UpsertNode(
        self, request: pb.UpsertNodeRequest, context: Context
    ) -> pb.UpsertNodeResponse:
        if not request.node_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "node_id is required")
        pairs, version, changed, accepted = await self._directory.upsert_node(
            request.node_id,
            request.language_capabilities,
            request.ready_service_types,
            request.index_seq,
        )
        return pb.UpsertNodeResponse(
            pairs=_pairs_pb(pairs), index_version=version, changed=changed, stale=not accepted
        )

    async def RemoveNode(
        self, request: pb.RemoveNodeRequest, context: Context
    ) -> pb.RemoveNodeResponse:
        version, accepted = await self._directory.remove_node(request.node_id, request.index_seq)
        return pb.RemoveNodeResponse(index_version=version, stale=not accepted)

    async def ApplyNodeChanges(
        self, request: pb.ApplyNodeChangesRequest, context: Context
    ) -> pb.ApplyNodeChangesResponse:
        changes = request.changes
        if len(changes) > MAX_CHANGES_PER_CALL:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"at most {MAX_CHANGES_PER_CALL} changes per call, got {len(changes)}",
            )
        node_ids = [c.node_id for c in changes]
        if not all(node_ids) or len(set(node_ids)) != len(node_ids):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "every change needs a node_id, each at most once"
            )
        outcomes, version = await self._directory.apply_changes(
            [
                NodeUpdate(
                    node_id=c.node_id,
                    index_seq=c.index_seq,
                    caps=c.entry.language_capabilities if c.HasField("entry") else None,
                    ready=tuple(c.entry.ready_service_types),
                )
                for c in changes
            ]
        )
        return pb.ApplyNodeChangesResponse(
            outcomes=[
                pb.NodeChangeOutcome(node_id=node_id, changed=changed, stale=not accepted)
                for node_id, (changed, accepted) in zip(node_ids, outcomes, strict=True)
            ],
            index_version=version,
        )

    async def FindCandidates(
        self, request: pb.FindCandidatesRequest, context: Context
    ) -> pb.FindCandidatesResponse:
        if not request.pair.src or not request.pair.tgt:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "pair.src and pair.tgt are required"
            )
        both = request.both_directions
        pair = (request.pair.src, request.pair.tgt)
        if both:
            pair = (min(pair), max(pair))  # both directions: one pool per unordered pair
        preferred = None
        if request.preferred_pool_id:
            parsed = parse_pool_id(request.preferred_pool_id, both)
            if parsed is not None and parsed[0] == pair:
                preferred = parsed[1]
        limit = min(request.limit or DEFAULT_CANDIDATES, MAX_CANDIDATES)
        index = self._directory.index
        with tracer.start_as_current_span(
            names.POOL_FIND_CANDIDATES,
            attributes={names.SRC_LANG: pair[0], names.TGT_LANG: pair[1]},
        ) as span:
            found = index.candidates(
                pair,
                request.required_service_types,
                request.exclude_node_ids,
                limit,
                preferred,
                both_ways=both,
            )
            span.set_attribute(names.SELECT_CANDIDATES, len(found))
        return pb.FindCandidatesResponse(
            candidates=[
                pb.Candidate(node_id=n, pool_id=pool_id(pair, index.shard_of(pair, n, both), both))
                for n in found
            ],
            index_version=index.version,
        )

    async def GetPool(self, request: pb.GetPoolRequest, context: Context) -> pb.GetPoolResponse:
        parsed = parse_pool_id(request.pool_id)
        members = self._directory.index.members(*parsed) if parsed else []
        if parsed is None or not members:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no pool {request.pool_id!r}")
            raise AssertionError("unreachable")
        return pb.GetPoolResponse(pool=_pool_pb(parsed[0], parsed[1], members))

    async def ListPools(
        self, request: pb.ListPoolsRequest, context: Context
    ) -> pb.ListPoolsResponse:
        size = min(request.page_size or 100, MAX_PAGE_SIZE)
        pools = sorted(
            (pool_id(pair, shard), pair, shard, members)
            for (pair, shard), members in self._directory.index.pools().items()
        )
        start = 0
        if request.page_token:
            start = next((i for i, p in enumerate(pools) if p[0] > request.page_token), len(pools))
        page = pools[start : start + size]
        more = start + size < len(pools)
        return pb.ListPoolsResponse(
            pools=[_pool_pb(pair, shard, members) for _, pair, shard, members in page],
            next_page_token=page[-1][0] if more and page else "",
            index_version=self._directory.index.version,
        )

    async def WatchIndex(
        self, request: pb.WatchIndexRequest, context: Context
    ) -> AsyncIterator[pb.WatchIndexResponse]:
        # Subscribe before reading history, so nothing falls between the two.
        queue = self._directory.watch()
        try:
            sent = request.after_version
            try:
                replay = await self._directory.history_after(request.after_version)
            except ResyncRequired:
                replay = None
            if replay is None:
                sent, entries = self._directory.snapshot()
                yield pb.WatchIndexResponse(index_version=sent, reset=True)
                for change in entries:
                    yield _change_pb(change)
            else:
                for change in replay:
                    sent = max(sent, change.version)
                    yield _change_pb(change)
            yield pb.WatchIndexResponse(index_version=sent, synced=True)
            while True:
                live = await queue.get()
                if live is None:
                    # Fell behind: start over from a snapshot on a fresh subscription.
                    queue = self._directory.watch()
                    sent, entries = self._directory.snapshot()
                    yield pb.WatchIndexResponse(index_version=sent, reset=True)
                    for change in entries:
                        yield _change_pb(change)
                    yield pb.WatchIndexResponse(index_version=sent, synced=True)
                elif live.version > sent:
                    sent = live.version
                    yield _change_pb(live)
        finally:
            self._directory.unwatch(queue)


def _pool_pb(pair: Pair, shard: int, members: list[str]) -> pb.Pool:
    return pb.Pool(
        pool_id=pool_id(pair, shard),
        pair=node_pb2.LanguagePair(src=pair[0], tgt=pair[1]),
        node_ids=members,
    )
