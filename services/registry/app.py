"""Wiring of the registry service."""

from __future__ import annotations

import asyncio

from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.channels import ChannelCache, insecure_channel
from lingua_common.clock import Clock, SystemClock
from lingua_common.grpc_app import ServiceApp
from lingua_common.ids import new_id
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from services.registry.domain import Registry
from services.registry.gateways import GatewayNotifier
from services.registry.index_sync import IndexSync
from services.registry.metrics import NodeGauges, RegistryMetrics
from services.registry.pool_client import GrpcPoolIndexer
from services.registry.servicer import RegistryServicer
from services.registry.settings import RegistrySettings
from services.registry.store import RedisRegistryStore, StoreLimits


def build_app(settings: RegistrySettings, clock: Clock | None = None) -> ServiceApp:
    clock = clock or SystemClock()
    app = ServiceApp("registry", settings.server)
    redis = connect(settings.redis)
    app.on_startup(lambda: initialize(redis))
    health = settings.health
    keys = Keys(settings.redis.key_prefix)
    metrics = RegistryMetrics(app.metrics.registry)
    app.metrics.on_scrape(NodeGauges(redis, keys, metrics).refresh)
    store = RedisRegistryStore(
        redis,
        LuaScripts(redis, settings.redis.lua_dir),
        keys,
        StoreLimits(
            owner_ttl_ms=settings.owner_ttl_ms,
            record_ttl_ms=settings.record_ttl_ms,
            alive_window_ms=settings.offline_after_ms,
            ready_after_beats=settings.ready_after_beats,
            failures_to_degrade=health.failures_to_degrade,
            failure_cooldown_ms=health.failure_cooldown_ms,
            history_length=settings.history_length,
            event_feed_maxlen=settings.event_feed_maxlen,
        ),
        metrics,
    )
    service_token = settings.server.auth.service_token
    pool_channel = insecure_channel(settings.pool_address, token=service_token)
    gateway_channels = ChannelCache(token=service_token)
    index = IndexSync(GrpcPoolIndexer(pool_channel))
    registry = Registry(
        store, index, GatewayNotifier(store, gateway_channels), clock, settings, new_id("registry")
    )
    pb_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(registry, store), app.server)
    app.add_service_name(pb.DESCRIPTOR.services_by_name["RegistryService"].full_name)

    async def sweep_loop() -> None:
        while True:
            await registry.sweep_once()
            await asyncio.sleep(settings.sweep_interval_ms / 1000)

    async def reconcile_loop() -> None:
        while True:
            await asyncio.sleep(settings.reconcile_interval_ms / 1000)
            await registry.reconcile_once()

    async def finish_indexing() -> None:
        # Drain: what was accepted reaches the index and the event feed before the
        # process goes.
        await asyncio.wait_for(index.wait_idle(), settings.server.shutdown_grace_s)
        await asyncio.wait_for(registry.flush_events(), settings.server.shutdown_grace_s)

    app.steps["sweep"] = registry.sweep_once
    app.run_in_background(index.run)
    app.run_in_background(sweep_loop)
    app.run_in_background(reconcile_loop)
    app.on_drain(finish_indexing)
    app.on_close(lambda: close_redis(redis))
    app.on_close(lambda: pool_channel.close(None))
    app.on_close(gateway_channels.close)
    return app
