"""Index updates in batches: the pool applies many nodes' entries in one call (each as
UpsertNode / RemoveNode would), and the registry's index sync sends them so (real pool
service, real gRPC, real Redis; server and cluster)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pb
from lingua.pool.v1 import pool_service_pb2_grpc as pb_grpc
from lingua_common.channels import insecure_channel
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.registry import index_sync
from services.registry.index_sync import IndexSync, IndexUpdate
from services.registry.pool_client import GrpcPoolIndexer
from tests.metrics_scrape import scrape
from tests.suite import grpc_address

ZH_EN = node_pb2.LanguageCapabilities(asr_languages=["zh"], semantic_languages=["en"])
EN_ZH = node_pb2.LanguageCapabilities(asr_languages=["en"], semantic_languages=["zh"])


def change(node_id: str, seq: int, caps: node_pb2.LanguageCapabilities | None) -> pb.NodeChange:
    if caps is None:
        return pb.NodeChange(node_id=node_id, index_seq=seq)
    entry = pb.IndexEntry(language_capabilities=caps, ready_service_types=["asr", "nmt"])
    return pb.NodeChange(node_id=node_id, index_seq=seq, entry=entry)


async def members(stub: pb_grpc.PoolServiceStub, src: str, tgt: str) -> set[str]:
    found = await stub.FindCandidates(
        pb.FindCandidatesRequest(
            pair=node_pb2.LanguagePair(src=src, tgt=tgt), required_service_types=["asr"], limit=64
        )
    )
    return {c.node_id for c in found.candidates}


async def test_a_batch_applies_each_change_as_its_single_call_would(
    pool: ServiceApp, redis_settings: RedisSettings
) -> None:
    async with grpc.aio.insecure_channel(grpc_address(pool)) as channel:
        stub = pb_grpc.PoolServiceStub(channel)
        for node_id in ("kept", "moved", "gone", "newer"):
            await stub.UpsertNode(
                pb.UpsertNodeRequest(
                    node_id=node_id,
                    language_capabilities=ZH_EN,
                    ready_service_types=["asr", "nmt"],
                    index_seq=5,
                )
            )
        reply = await stub.ApplyNodeChanges(
            pb.ApplyNodeChangesRequest(
                changes=[
                    change("new", 1, ZH_EN),
                    change("kept", 6, ZH_EN),  # the same entry again
                    change("moved", 6, EN_ZH),
                    change("gone", 6, None),
                    change("newer", 4, None),  # older than what the pool has
                    change("silent", 1, node_pb2.LanguageCapabilities()),  # no languages
                ]
            )
        )
        outcomes = [(o.node_id, o.changed, o.stale) for o in reply.outcomes]
        assert outcomes == [
            ("new", True, False),
            ("kept", False, False),
            ("moved", True, False),
            ("gone", True, False),
            ("newer", False, True),
            ("silent", True, False),
        ]
        # The pool has applied its own writes before it answers.
        assert await members(stub, "zh", "en") == {"new", "kept", "newer"}
        assert await members(stub, "en", "zh") == {"moved"}
        pools = await stub.ListPools(pb.ListPoolsRequest())
        assert reply.index_version == pools.index_version
    client = connect(redis_settings)
    try:
        keys = Keys(redis_settings.key_prefix)
        assert await client.hget(keys.index_nodes(), "gone") is None
        assert await client.hget(keys.index_nodes(), "silent") is not None  # kept, no pairs
        assert await client.hget(keys.index_seqs(), "newer") == b"5"
    finally:
        await client.aclose()


async def test_a_batch_too_large_or_naming_a_node_twice_is_refused(pool: ServiceApp) -> None:
    async with grpc.aio.insecure_channel(grpc_address(pool)) as channel:
        stub = pb_grpc.PoolServiceStub(channel)
        too_many = [change(f"n{i}", 1, ZH_EN) for i in range(1_001)]
        twice = [change("n1", 1, ZH_EN), change("n1", 2, None)]
        unnamed = [change("", 1, ZH_EN)]
        for changes in (too_many, twice, unnamed):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ApplyNodeChanges(pb.ApplyNodeChangesRequest(changes=changes))
            assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert await members(stub, "zh", "en") == set()  # nothing of them applied


async def test_the_index_sync_sends_a_storm_of_updates_in_a_few_calls(
    pool: ServiceApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_sync, "BATCH_SIZE", 50)
    channel = insecure_channel(grpc_address(pool))
    index = IndexSync(GrpcPoolIndexer(channel))
    for i in range(120):
        index.submit(IndexUpdate(f"n{i}", 1, ZH_EN, ("asr",)))
    index.submit(IndexUpdate("n7", 2, None))  # superseded before it was sent
    worker = asyncio.create_task(index.run())
    try:
        await asyncio.wait_for(index.wait_idle(), 10)
        calls = await scrape(pool.ports["metrics"])
        assert calls.get("lingua_grpc_server_handled_total", grpc_method="ApplyNodeChanges") == 3
        assert calls.get("lingua_grpc_server_handled_total", grpc_method="UpsertNode") == 0
        stub = pb_grpc.PoolServiceStub(channel)
        pools = await stub.ListPools(pb.ListPoolsRequest())
        assert sum(len(p.node_ids) for p in pools.pools) == 119
    finally:
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        await channel.close(None)
