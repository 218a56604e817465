"""A node is in the pool index by the time its registration is acknowledged (DESIGN.md,
flow 1: "index its directed pairs; ack"): a job sent that moment must find it, where a
pair nobody serves fails at once with NO_AVAILABLE_NODE."""

from __future__ import annotations

import asyncio

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.channels import insecure_channel
from services.registry.index_sync import IndexSync, IndexUpdate
from services.registry.pool_client import GrpcPoolIndexer
from tests.peers import Peer, heartbeat_message, open_session, register_message, utterance_message
from tests.suite import InProcessSuite, grpc_address
from tools.launcher.ports import free_port

ZH_EN = node_pb2.LanguageCapabilities(asr_languages=["zh"], semantic_languages=["en"])
# Pairs nobody else in the suite serves: a job for one can only go to the new node.
FRESH_PAIRS = (("ja", "ko"), ("ko", "ja"), ("fr", "de"), ("de", "fr"), ("es", "it"))


def descriptor(caps: node_pb2.LanguageCapabilities) -> node_pb2.NodeDescriptor:
    return node_pb2.NodeDescriptor(
        capability_schema_version="2.0",
        hardware=node_pb2.Hardware(gpus=[node_pb2.Gpu(name="gpu", memory_gb=8)]),
        capability_by_type=[node_pb2.CapabilityByType(type="asr", ready=True)],
        language_capabilities=caps,
        accept_public_jobs=True,
    )


async def test_the_pool_finds_a_node_the_moment_its_registration_is_acknowledged(
    suite: InProcessSuite,
) -> None:
    async with (
        grpc.aio.insecure_channel(grpc_address(suite.registry)) as registry_channel,
        grpc.aio.insecure_channel(grpc_address(suite.pool)) as pool_channel,
    ):
        registry = pb_grpc.RegistryServiceStub(registry_channel)
        pool = pool_grpc.PoolServiceStub(pool_channel)
        zh_en = pool_pb.FindCandidatesRequest(
            pair=node_pb2.LanguagePair(src="zh", tgt="en"), limit=100
        )
        for i in range(20):
            await registry.RegisterNode(
                pb.RegisterNodeRequest(
                    node_id=f"fresh-{i}", gateway_id="gw-0", descriptor=descriptor(ZH_EN)
                )
            )
            found = await pool.FindCandidates(zh_en)
            assert f"fresh-{i}" in {c.node_id for c in found.candidates}, i


async def test_a_job_sent_the_moment_a_node_is_acknowledged_reaches_it(
    suite: InProcessSuite,
) -> None:
    url = suite.ws_url()
    for src, tgt in FRESH_PAIRS:
        session, session_id = await open_session(url, src, tgt)
        node = await Peer.open(url + "/ws/node")
        await node.send(register_message(((src, tgt),)))
        ack = await node.expect("node_register_ack")
        await session.send(utterance_message(session_id, 0, b"audio", src, tgt))
        await node.send(heartbeat_message(ack["node_id"]))  # ready: it may take jobs
        assign = await node.expect("job_assign", skip=("node_control", "ui_event"))
        assert (assign["src_lang"], assign["tgt_lang"]) == (src, tgt)
        await asyncio.gather(session.close(), node.close())


async def test_an_unreachable_pool_delays_the_ack_only_boundedly() -> None:
    channel = insecure_channel(f"127.0.0.1:{free_port()}")
    index = IndexSync(GrpcPoolIndexer(channel))
    worker = asyncio.create_task(index.run())
    try:
        started = asyncio.get_running_loop().time()
        assert not await index.indexed(IndexUpdate("n1", 1, ZH_EN, ("asr",)), timeout_s=0.3)
        assert 0.3 <= asyncio.get_running_loop().time() - started < 2.0
        assert index.pending == 1  # still queued: it lands when the pool is back
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await channel.close(None)
