"""The language index across restarts: the pool rebuilds from Redis, the dispatcher's
replica resyncs by version (or from a snapshot), the registry reconciles lost updates."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import grpc
import pytest

from lingua.common.v1 import node_pb2
from lingua_common.channels import ChannelCache, insecure_channel
from lingua_common.clock import SystemClock
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, connect
from lingua_common.settings import RedisSettings
from services.dispatcher.index_replica import IndexReplica
from services.pool.app import build_app as build_pool
from services.pool.settings import PoolSettings
from services.registry.domain import Registry
from services.registry.gateways import GatewayNotifier
from services.registry.index_sync import IndexSync, IndexUpdate
from services.registry.pool_client import GrpcPoolIndexer
from services.registry.settings import RegistrySettings
from services.registry.store import RedisRegistryStore, StoreLimits
from tests.services.lifecycle_helpers import eventually
from tests.suite import LOCAL, grpc_address
from tools.launcher.ports import free_port

ZH_EN = node_pb2.LanguageCapabilities(asr_languages=["zh"], semantic_languages=["en"])


async def until_reachable(call: Callable[[], Awaitable[None]], wait_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            await call()
            return
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            assert asyncio.get_running_loop().time() < deadline, "pool not reachable again"
            await asyncio.sleep(0.1)


async def restart_pool(old: ServiceApp, settings: PoolSettings) -> ServiceApp:
    port = old.ports["grpc"]
    await old.stop()
    new = build_pool(
        dataclasses.replace(settings, server=dataclasses.replace(LOCAL, grpc_port=port))
    )
    await new.start()
    return new


async def test_a_restarted_pool_rebuilds_from_redis_and_the_replica_resyncs(
    pool: ServiceApp, redis_settings: RedisSettings
) -> None:
    indexer = GrpcPoolIndexer(insecure_channel(grpc_address(pool)))
    for i in range(5):
        await indexer.upsert(f"n{i}", ZH_EN, ["asr", "nmt"], index_seq=1)
    channel = insecure_channel(grpc_address(pool))
    replica = IndexReplica(channel)
    follower = asyncio.create_task(replica.run())
    try:

        async def all_five() -> bool:
            return replica.synced and len(replica.index.members(("zh", "en"))) == 5

        await eventually(all_five)
        version_before = replica.index.version
        settings = PoolSettings(server=LOCAL, redis=redis_settings)
        pool = await restart_pool(pool, settings)
        # While it was away, nothing changed; after it, one more node and one removal.
        indexer = GrpcPoolIndexer(insecure_channel(grpc_address(pool)))
        # Like the registry's index sync, retry while the channel reconnects.
        await until_reachable(lambda: indexer.upsert("n9", ZH_EN, ["asr"], index_seq=1))
        await indexer.remove("n0", index_seq=2)

        async def caught_up() -> bool:
            members = replica.index.members(("zh", "en"))
            return replica.synced and members == ["n1", "n2", "n3", "n4", "n9"]

        await eventually(caught_up, wait_s=10)
        assert replica.index.version == version_before + 2
    finally:
        follower.cancel()
        await channel.close(None)
        await pool.stop()


async def test_a_replica_far_behind_the_feed_gets_a_snapshot(redis_settings: RedisSettings) -> None:
    pool = build_pool(PoolSettings(server=LOCAL, redis=redis_settings, feed_maxlen=5))
    await pool.start()
    channel = insecure_channel(grpc_address(pool))
    try:
        indexer = GrpcPoolIndexer(channel)
        for i in range(3):
            await indexer.upsert(f"n{i}", ZH_EN, ["asr"], index_seq=1)
        replica = IndexReplica(channel)
        follower = asyncio.create_task(replica.run())

        async def members(count: int) -> bool:
            return replica.synced and len(replica.index.members(("zh", "en"))) == count

        await eventually(lambda: members(3))
        follower.cancel()
        # While the replica is away, more changes than the feed keeps.
        for i in range(3, 40):
            await indexer.upsert(f"n{i}", ZH_EN, ["asr"], index_seq=1)
        await indexer.remove("n0", index_seq=2)
        follower = asyncio.create_task(replica.run())
        try:
            await eventually(lambda: members(39))
            assert "n0" not in replica.index.members(("zh", "en"))
            assert replica.index.version == 41
        finally:
            follower.cancel()
    finally:
        await channel.close(None)
        await pool.stop()


async def test_reconcile_resends_what_the_pool_is_behind_on(
    pool: ServiceApp, redis_settings: RedisSettings
) -> None:
    client = connect(redis_settings)
    keys = Keys(redis_settings.key_prefix)
    settings = RegistrySettings(server=LOCAL, redis=redis_settings)
    store = RedisRegistryStore(
        client,
        LuaScripts(client),
        keys,
        StoreLimits(60_000, 3_600_000, 45_000, 1, 3, 60_000, 50, 1000),
    )
    channel = insecure_channel(grpc_address(pool))
    index = IndexSync(GrpcPoolIndexer(channel))
    registry = Registry(
        store,
        index,
        GatewayNotifier(store, ChannelCache()),
        SystemClock(),
        settings,
        "registry-test",
    )
    descriptor = node_pb2.NodeDescriptor(
        capability_schema_version="2.0",
        hardware=node_pb2.Hardware(gpus=[node_pb2.Gpu(name="gpu", memory_gb=8)]),
        capability_by_type=[node_pb2.CapabilityByType(type="asr", ready=True)],
        language_capabilities=ZH_EN,
    )
    try:
        # Registered while nothing sends index updates (as if the registry crashed first).
        await registry.register("node-lost", descriptor, "gw-0")
        assert await client.hget(keys.index_nodes(), "node-lost") is None
        worker = asyncio.create_task(index.run())
        try:
            assert await registry.reconcile_once() == 1
            await asyncio.wait_for(index.wait_idle(), 5)
            assert await client.hget(keys.index_seqs(), "node-lost") == b"1"
            assert await client.hget(keys.index_nodes(), "node-lost") is not None
            assert await registry.reconcile_once() == 0  # nothing behind any more
        finally:
            worker.cancel()
    finally:
        await channel.close(None)
        await client.aclose()


async def test_an_unreachable_pool_delays_indexing_but_loses_nothing() -> None:
    channel = insecure_channel(f"127.0.0.1:{free_port()}")
    index = IndexSync(GrpcPoolIndexer(channel))
    worker = asyncio.create_task(index.run())
    try:
        index.submit(IndexUpdate("n1", 1, ZH_EN, ("asr",)))
        index.submit(IndexUpdate("n1", 3, None))
        index.submit(IndexUpdate("n1", 2, ZH_EN, ("asr",)))  # older than the queued one
        await asyncio.sleep(0.5)
        assert index.pending == 1  # retried with back-off, newest update kept
    finally:
        worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    await channel.close(None)
