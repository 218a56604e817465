"""The services' own answers about the fleet: the pool index (ListPools) and node
statuses (ListNodes), read over gRPC and paged to the end."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.language_index import Pair

CALL_TIMEOUT_S = 30.0
PAGE_SIZE = 500
MAX_PAGES = 10_000  # a bound, far above what 10,000 nodes need


@dataclass(frozen=True)
class PoolsView:
    index_version: int  # of the first page
    members: dict[Pair, int]  # distinct members per pair
    shards: dict[Pair, int]  # pools (shards) per pair
    largest_pool: int
    pages: int

    def total_members(self, pairs: Collection[Pair] | None = None) -> int:
        return sum(n for p, n in self.members.items() if pairs is None or p in pairs)


async def list_pools(stub: pool_grpc.PoolServiceStub) -> PoolsView:
    version: int | None = None
    members: dict[Pair, set[str]] = {}
    shards: Counter[Pair] = Counter()
    largest = 0
    token, pages = "", 0
    while pages < MAX_PAGES:
        reply = await stub.ListPools(
            pool_pb.ListPoolsRequest(page_size=PAGE_SIZE, page_token=token),
            timeout=CALL_TIMEOUT_S,
        )
        pages += 1
        if version is None:
            version = reply.index_version
        for pool in reply.pools:
            pair = (pool.pair.src, pool.pair.tgt)
            members.setdefault(pair, set()).update(pool.node_ids)
            shards[pair] += 1
            largest = max(largest, len(pool.node_ids))
        token = reply.next_page_token
        if not token:
            break
    return PoolsView(
        index_version=version or 0,
        members={pair: len(ids) for pair, ids in members.items()},
        shards=dict(shards),
        largest_pool=largest,
        pages=pages,
    )


async def index_version(stub: pool_grpc.PoolServiceStub) -> int:
    reply = await stub.ListPools(pool_pb.ListPoolsRequest(page_size=1), timeout=CALL_TIMEOUT_S)
    return int(reply.index_version)


async def wait_index_settled(
    stub: pool_grpc.PoolServiceStub,
    expected: dict[Pair, int],
    timeout_s: float,
    quiet_s: float = 1.0,
) -> tuple[PoolsView, bool, float]:
    """Poll the index until every expected pair has its members and the version has not
    moved for `quiet_s`. Returns (last view, settled, seconds waited)."""
    started = time.perf_counter()
    deadline = started + timeout_s
    view = await list_pools(stub)
    stable_since = time.perf_counter()
    while True:
        complete = all(view.members.get(pair, 0) >= n for pair, n in expected.items())
        if complete and time.perf_counter() - stable_since >= quiet_s:
            return view, True, time.perf_counter() - started
        if time.perf_counter() >= deadline:
            return view, False, time.perf_counter() - started
        await asyncio.sleep(0.25)
        latest = await list_pools(stub)
        if latest.index_version != view.index_version:
            stable_since = time.perf_counter()
        view = latest


@dataclass
class StatusCount:
    by_status: Counter[str] = field(default_factory=Counter)
    listed: int = 0  # distinct nodes listed (all of them, not only ours)
    pages: int = 0
    elapsed_s: float = 0.0

    @property
    def ready(self) -> int:
        return self.by_status.get("READY", 0)


async def count_statuses(
    stub: registry_grpc.RegistryServiceStub, ours: Collection[str]
) -> StatusCount:
    """Statuses of our nodes as the registry lists them (ListNodes, every page)."""
    count = StatusCount()
    seen: set[str] = set()
    token = ""
    started = time.perf_counter()
    while count.pages < MAX_PAGES:
        reply = await stub.ListNodes(
            registry_pb.ListNodesRequest(page_size=PAGE_SIZE, page_token=token),
            timeout=CALL_TIMEOUT_S,
        )
        count.pages += 1
        for node in reply.nodes:
            if node.node_id in seen:
                continue  # SSCAN may return a member twice
            seen.add(node.node_id)
            if node.node_id in ours:
                name = node_pb2.NodeStatus.Name(node.status).removeprefix("NODE_STATUS_")
                count.by_status[name] += 1
        token = reply.next_page_token
        if not token:
            break
    count.listed = len(seen)
    count.elapsed_s = time.perf_counter() - started
    return count


async def count_ready_filtered(
    stub: registry_grpc.RegistryServiceStub, ours: Collection[str]
) -> int:
    """Our nodes the registry lists under the READY filter."""
    ready: set[str] = set()
    token = ""
    for _ in range(MAX_PAGES):
        reply = await stub.ListNodes(
            registry_pb.ListNodesRequest(
                status=node_pb2.NODE_STATUS_READY, page_size=PAGE_SIZE, page_token=token
            ),
            timeout=CALL_TIMEOUT_S,
        )
        ready.update(n.node_id for n in reply.nodes if n.node_id in ours)
        token = reply.next_page_token
        if not token:
            break
    return len(ready)
