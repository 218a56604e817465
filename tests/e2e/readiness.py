"""Waiting until a node can take jobs, for end-to-end tests over a launched stack."""

from __future__ import annotations

import asyncio

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from tools.launcher.stack import Stack


async def indexed(stack: Stack, node_id: str, src: str, tgt: str) -> None:
    """Wait until the pool index offers the node for the pair and the registry has it
    ready (after its first heartbeat): a job sent before that waits for capacity, and
    its trace holds more than one placement."""
    assert stack.pool is not None and stack.registry is not None
    async with (
        grpc.aio.insecure_channel(stack.pool.grpc_address) as pool_channel,
        grpc.aio.insecure_channel(stack.registry.grpc_address) as registry_channel,
    ):
        pool = pool_grpc.PoolServiceStub(pool_channel)
        registry = registry_grpc.RegistryServiceStub(registry_channel)
        for _ in range(200):
            reply = await pool.FindCandidates(
                pool_pb.FindCandidatesRequest(pair=node_pb2.LanguagePair(src=src, tgt=tgt))
            )
            if any(c.node_id == node_id for c in reply.candidates):
                node = await registry.GetNode(registry_pb.GetNodeRequest(node_id=node_id))
                if node.node.status == node_pb2.NODE_STATUS_READY:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{node_id} never became a ready candidate for {src}->{tgt}")
