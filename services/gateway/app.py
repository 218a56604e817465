"""Wiring of the gateway service: WebSocket endpoints plus its internal gRPC API."""

from __future__ import annotations

import asyncio
import logging

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.gateway.v1 import gateway_service_pb2 as pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.channels import insecure_channel, retry_policy
from lingua_common.clock import Clock, SystemClock
from lingua_common.generation import DataGeneration
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.metrics.board import publish_metrics
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from services.gateway.context import GatewayContext
from services.gateway.deliveries import Deliveries
from services.gateway.dispatcher_links import DispatcherLinks, LinkSettings
from services.gateway.groups import RedisGroupStore
from services.gateway.heartbeat_uplink import HeartbeatUplink
from services.gateway.idle_nodes import IdleNodeWatch
from services.gateway.metrics import GatewayMetrics
from services.gateway.recovery import GatewayRecovery
from services.gateway.servicer import GatewayServicer
from services.gateway.settings import GatewaySettings
from services.gateway.store import RedisGatewayStore
from services.gateway.ws_server import WebSocketEndpoints

logger = logging.getLogger(__name__)

REGISTRY_SERVICE = "lingua.registry.v1.RegistryService"


def build_app(settings: GatewaySettings, clock: Clock | None = None) -> ServiceApp:
    settings.validate()
    if settings.auth.disabled:
        logger.warning(
            "authentication is disabled (LINGUA_AUTH_DISABLED=true): any peer may connect"
        )
    clock = clock or SystemClock()
    app = ServiceApp("gateway", settings.server)
    redis = connect(settings.redis)
    app.on_startup(lambda: initialize(redis))
    store = RedisGatewayStore(
        redis,
        LuaScripts(redis, settings.redis.lua_dir),
        Keys(settings.redis.key_prefix),
        settings.gateway_id,
        settings.owner_ttl_ms,
        # Leave most of the shared pool to the other calls (owners, advertisements).
        concurrency=max(1, settings.redis.max_connections // 4),
    )
    # Calls that are idempotent by design (epoch and attempt fencing, request ids) are
    # retried by gRPC itself when a service is briefly unavailable.
    registry_channel = insecure_channel(
        settings.registry_address,
        [retry_policy(REGISTRY_SERVICE, ["Heartbeat", "DeregisterNode", "DrainNode"])],
        token=settings.server.auth.service_token,
    )
    registry = registry_grpc.RegistryServiceStub(registry_channel)
    heartbeats = HeartbeatUplink(registry, settings.heartbeat_uplink)
    groups = RedisGroupStore(
        redis,
        LuaScripts(redis, settings.redis.lua_dir),
        Keys(settings.redis.key_prefix),
        settings.groups,
    )

    async def dispatchers() -> list[str]:
        return await store.dispatcher_addresses(clock.now_ms())

    async def delivered(message: link_pb.DispatcherMessage) -> None:
        await deliveries.from_link(message)

    # The job path: a link to each dispatcher replica; what they send goes to sockets.
    links = DispatcherLinks(
        LinkSettings(
            gateway_id=settings.gateway_id,
            fallback_address=settings.dispatcher_address,
            service_token=settings.server.auth.service_token,
        ),
        dispatchers,
        lambda: [(node_id, link.epoch) for node_id, link in ctx.nodes.items()],
        delivered,
    )
    ctx = GatewayContext(
        settings=settings,
        clock=clock,
        store=store,
        groups=groups,
        registry=registry,
        heartbeats=heartbeats,
        links=links,
        metrics=GatewayMetrics(app.metrics.registry),
    )
    deliveries = Deliveries(ctx)
    endpoints = WebSocketEndpoints(ctx)
    pb_grpc.add_GatewayServiceServicer_to_server(GatewayServicer(ctx, deliveries), app.server)
    app.add_service_name(pb.DESCRIPTOR.services_by_name["GatewayService"].full_name)

    async def advertise() -> None:
        await store.advertise(f"{settings.advertise_host}:{app.ports['grpc']}")

    async def start_endpoints() -> None:
        # Advertise before accepting sockets: owners must be reachable from the first job.
        await advertise()
        app.ports["ws"] = await endpoints.start()

    async def keep_ownership() -> None:
        while True:
            await asyncio.sleep(settings.owner_refresh_ms / 1000)
            await advertise()
            await store.refresh_owners(list(ctx.sessions))

    # Redis lost its data: nodes, sessions and unanswered jobs are written back.
    ctx.recovery = GatewayRecovery(ctx, advertise)
    generation = DataGeneration(redis, Keys(settings.redis.key_prefix))
    generation.on_loss(ctx.recovery.rebuild)
    app.on_startup(generation.start)
    app.run_in_background(generation.run)

    async def tick() -> None:
        while True:
            await asyncio.sleep(settings.tick_ms / 1000)
            now = clock.now_ms()
            for link in list(ctx.active_sessions):
                link.tick(now)

    async def drain() -> None:
        await endpoints.shutdown(settings.drain_timeout_ms / 1000)
        await store.withdraw()

    app.on_serving(start_endpoints)
    app.run_in_background(heartbeats.run)
    app.run_in_background(links.run)
    app.run_in_background(keep_ownership)
    app.run_in_background(tick)
    app.run_in_background(IdleNodeWatch(endpoints.links, clock, settings.node_idle_timeout_ms).run)
    # Operator tools: open sockets on the metrics board (the console reads every replica's).
    publish_metrics(app, redis, Keys(settings.redis.key_prefix))
    app.on_drain(drain)
    app.on_close(lambda: close_redis(redis))
    app.on_close(lambda: registry_channel.close(None))
    return app
