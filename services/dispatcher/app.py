"""Wiring of the dispatcher service."""

from __future__ import annotations

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2_grpc as link_grpc
from lingua_common.channels import insecure_channel
from lingua_common.clock import Clock, SystemClock
from lingua_common.generation import DataGeneration
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex
from lingua_common.link import LinkLimits
from lingua_common.metrics.board import publish_metrics
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from services.dispatcher.acks import AckWork
from services.dispatcher.affinity import Affinity
from services.dispatcher.deliveries import Deliveries
from services.dispatcher.domain import Dispatcher
from services.dispatcher.index_replica import IndexReplica, ReplicatedCandidateFinder
from services.dispatcher.intake import JobIntake
from services.dispatcher.lifecycle import JobLifecycle
from services.dispatcher.link_servicer import GatewayLinkServicer
from services.dispatcher.links import GatewayLinks
from services.dispatcher.loads import LoadEstimates
from services.dispatcher.lost_connections import LostConnections
from services.dispatcher.metrics import DispatcherMetrics, JobGauges
from services.dispatcher.node_reports import NodeReports
from services.dispatcher.owners import NodeOwners
from services.dispatcher.pending import PendingQueues
from services.dispatcher.placement import Placer
from services.dispatcher.pool_client import GrpcCandidateFinder
from services.dispatcher.presence import Presence
from services.dispatcher.recovery import Recovery
from services.dispatcher.retries import Retries
from services.dispatcher.servicer import DispatcherServicer
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.slot_audit import SlotAudit
from services.dispatcher.store import TIMEOUT_BUCKETS, RedisJobStore
from services.dispatcher.waiting import WaitingJobs
from services.dispatcher.watch_hub import WatchHub, WatchSettings
from services.dispatcher.watch_store import RedisWatchStore


def build_app(settings: DispatcherSettings, clock: Clock | None = None) -> ServiceApp:
    clock = clock or SystemClock()
    app = ServiceApp("dispatcher", settings.server)
    redis = connect(settings.redis)
    app.on_startup(lambda: initialize(redis))
    keys = Keys(settings.redis.key_prefix)
    metrics = DispatcherMetrics(app.metrics.registry)
    app.metrics.on_scrape(JobGauges(redis, keys, metrics, TIMEOUT_BUCKETS).refresh)
    scripts = LuaScripts(redis, settings.redis.lua_dir)
    store = RedisJobStore(
        redis,
        scripts,
        keys,
        live_ttl_ms=settings.job_ttl_ms,
        retention_ms=settings.job_retention_ms,
        metrics=metrics,
    )
    queues = PendingQueues(redis, scripts, keys)

    # The job path: the gateways' links, and the one owner of a job's lifecycle.
    links = GatewayLinks(LinkLimits(), settings.gateway_outbox_items, settings.gateway_outbox_bytes)
    owners = NodeOwners()
    loads = LoadEstimates()
    acks = AckWork(store, clock, settings)
    lifecycle = JobLifecycle(
        store, queues, Deliveries(links), owners, loads, acks, clock, settings, metrics
    )

    # Deciding which transition happens: placement, retries, waiting, intake, recovery.
    pool_channel = insecure_channel(settings.pool_address, token=settings.server.auth.service_token)
    replica = IndexReplica(pool_channel, LanguageIndex(shard_size=settings.shard_size))
    finder = ReplicatedCandidateFinder(replica, GrpcCandidateFinder(pool_channel))
    metrics.watch_index_replica(replica)
    placer = Placer(
        lifecycle,
        finder,
        owners,
        loads,
        links,
        Affinity(store, settings.affinity_cache_size),
        clock,
        settings,
        metrics=metrics,
    )
    waiting = WaitingJobs(store, queues, placer, clock, settings, finder.pairs_of)
    lifecycle.attach_waiting(waiting)
    retries = Retries(lifecycle, placer, clock, settings)
    intake = JobIntake(lifecycle, placer, retries, clock, settings, metrics)
    reports = NodeReports(lifecycle, retries, store)
    recovery = Recovery(store, lifecycle, retries, waiting, queues, loads, clock, settings)
    presence = Presence(store, links, clock, settings)
    lost_connections = LostConnections(
        recovery, settings.lost_connection_grace_ms, settings.pending_timeout_ms
    )
    # WatchJob streams share one reader (watch_hub.py), not a Redis connection each.
    watch_hub = WatchHub(
        RedisWatchStore(redis, scripts, keys),
        WatchSettings(
            max_watchers=settings.max_watchers,
            loss_check_s=settings.watch_loss_check_ms / 1000,
            sweep_s=settings.watch_sweep_ms / 1000,
        ),
    )
    app.run_in_background(watch_hub.run)
    app.on_drain(watch_hub.close)

    # The team API on its own port, taking team credentials (api_auth.py); the main port
    # serves the service-to-service API only.
    team = app.add_front("team", settings.team_port, "team")
    pb_grpc.add_DispatcherServiceServicer_to_server(
        DispatcherServicer(Dispatcher(store, intake, lifecycle), store, watch_hub), team.server
    )
    team.add_service_name(pb.DESCRIPTOR.services_by_name["DispatcherService"].full_name)
    link_grpc.add_GatewayLinkServiceServicer_to_server(
        GatewayLinkServicer(
            settings.replica_id,
            links,
            owners,
            intake,
            reports,
            lost_connections,
        ),
        app.server,
    )
    app.add_service_name(link_pb.DESCRIPTOR.services_by_name["GatewayLinkService"].full_name)

    async def advertise() -> None:
        address = settings.advertise_address or f"{settings.advertise_host}:{app.ports['grpc']}"
        await presence.advertise(address)

    app.on_serving(advertise)

    # Redis lost its data: what lived there is rebuilt (gateways create their jobs again).
    generation = DataGeneration(redis, keys)

    async def rebuild() -> None:
        loads.clear()
        await presence.advertise_again()

    generation.on_loss(rebuild)
    app.on_startup(generation.start)
    app.run_in_background(generation.run)
    app.on_drain(presence.withdraw)
    app.run_in_background(presence.run)
    app.run_in_background(replica.run)
    app.run_in_background(recovery.sweep_loop)
    app.run_in_background(recovery.follow_node_events)
    app.run_in_background(waiting.poll)
    audit = SlotAudit(store, lifecycle.release_leftover, settings.slot_audit_interval_ms)
    app.run_in_background(audit.run)
    # Operator tools: jobs, latencies and waiting lines on the metrics board (the console).
    publish_metrics(app, redis, keys)
    app.on_close(lambda: close_redis(redis))
    app.on_close(lambda: pool_channel.close(None))
    app.on_close(lambda: acks.wait(1.0))  # runs before Redis closes (reverse order)
    app.on_close(lost_connections.close)
    return app
