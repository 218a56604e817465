"""Every service times its unary gRPC calls and counts how each ended, per method
(real registry and dispatcher, real gRPC, GET /metrics over HTTP)."""

from __future__ import annotations

import grpc
import pytest

from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dispatcher_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.rpc_metrics import RPC_BUCKETS_S
from tests.metrics_scrape import scrape
from tests.suite import InProcessSuite, grpc_address, team_address

REGISTRY = "lingua.registry.v1.RegistryService"
DISPATCHER = "lingua.dispatcher.v1.DispatcherService"


async def test_unary_calls_are_timed_and_counted_by_method_and_code(
    suite: InProcessSuite,
) -> None:
    before = await scrape(suite.registry.ports["metrics"])
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        stub = registry_grpc.RegistryServiceStub(channel)
        for _ in range(3):
            await stub.ListNodes(registry_pb.ListNodesRequest())
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetNode(registry_pb.GetNodeRequest(node_id="no-such-node"))
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await dispatcher_grpc.DispatcherServiceStub(channel).GetJob(
                dispatcher_pb.GetJobRequest(job_id="no-such-job")
            )
    after = await scrape(suite.registry.ports["metrics"])

    def grew(name: str, **labels: str) -> float:
        return after.get(name, **labels) - before.get(name, **labels)

    handled = "lingua_grpc_server_handled_total"
    seconds = "lingua_grpc_server_handling_seconds"
    assert grew(handled, grpc_method="ListNodes", grpc_code="OK") == 3
    assert grew(handled, grpc_method="GetNode", grpc_code="NOT_FOUND") == 1
    assert grew(handled, grpc_method="GetNode", grpc_code="OK") == 0
    assert grew(f"{seconds}_count", grpc_service=REGISTRY, grpc_method="ListNodes") == 3
    took = grew(f"{seconds}_sum", grpc_service=REGISTRY, grpc_method="ListNodes")
    assert 0 < took < 3 * 5.0
    last = f"{RPC_BUCKETS_S[-1]}"
    assert grew(f"{seconds}_bucket", grpc_method="ListNodes", le=last) == 3
    # Each service exports its own calls only.
    assert after.get(handled, grpc_service=DISPATCHER) == 0
    dispatcher = await scrape(suite.dispatcher.ports["metrics"])
    assert dispatcher.get(handled, grpc_method="GetJob", grpc_code="NOT_FOUND") == 1
    assert dispatcher.get(handled, grpc_service=REGISTRY) == 0
