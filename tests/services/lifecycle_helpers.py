"""Reading the registry and pool state of nodes, for lifecycle tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
import orjson

from lingua.common.v1 import node_pb2
from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from tests.suite import InProcessSuite, grpc_address

STATUS = {
    node_pb2.NODE_STATUS_REGISTERING: "registering",
    node_pb2.NODE_STATUS_READY: "ready",
    node_pb2.NODE_STATUS_DEGRADED: "degraded",
    node_pb2.NODE_STATUS_DRAINING: "draining",
    node_pb2.NODE_STATUS_OFFLINE: "offline",
}


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def get_node(suite: InProcessSuite, node_id: str) -> node_pb2.Node:
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        reply = await pb_grpc.RegistryServiceStub(channel).GetNode(
            pb.GetNodeRequest(node_id=node_id), metadata=suite.service_metadata
        )
        return reply.node


async def status_of(suite: InProcessSuite, node_id: str) -> str:
    return STATUS[(await get_node(suite, node_id)).status]


async def wait_status(suite: InProcessSuite, node_id: str, status: str) -> None:
    async def reached() -> bool:
        return await status_of(suite, node_id) == status

    await eventually(reached)


@dataclass(frozen=True)
class NodeState:
    """Everything Redis holds about one node, key by key."""

    status: str
    epoch: int
    index_seq: int
    owner: str | None
    in_all: bool
    last_seen: float | None
    indexed_entry: dict[str, object] | None
    applied_index_seq: int
    running: int


async def node_state(suite: InProcessSuite, node_id: str) -> NodeState:
    keys = Keys(suite.redis.key_prefix)
    client = connect(suite.redis)
    try:
        record = await client.hgetall(keys.node(node_id))
        owner = await client.get(keys.node_owner(node_id))
        entry = await client.hget(keys.index_nodes(), node_id)
        return NodeState(
            status=record[b"status"].decode(),
            epoch=int(record[b"epoch"]),
            index_seq=int(record[b"index_seq"]),
            owner=owner.decode() if owner else None,
            in_all=bool(await client.sismember(keys.nodes_all(), node_id)),
            last_seen=await client.zscore(keys.nodes_last_seen(), node_id),
            indexed_entry=orjson.loads(entry) if entry else None,
            applied_index_seq=int(await client.hget(keys.index_seqs(), node_id) or 0),
            running=int(await client.hlen(keys.node_inflight(node_id))),
        )
    finally:
        await client.aclose()


async def dispatcher_places_on(suite: InProcessSuite, nodes: int, wait_s: float = 5.0) -> None:
    """Until the dispatcher's copy of the pool index holds `nodes` nodes it can place on
    (its lingua_index_replica_nodes gauge): a node acknowledged by the registry reaches
    it over the pool's feed a moment later."""
    registry = suite.dispatcher.metrics.registry

    async def placeable() -> bool:
        return registry.get_sample_value("lingua_index_replica_nodes") == nodes

    await eventually(placeable, wait_s)
