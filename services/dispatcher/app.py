"""Wiring of the dispatcher service."""

from __future__ import annotations

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.channels import ChannelCache, insecure_channel, retry_policy
from lingua_common.clock import Clock, SystemClock
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from services.dispatcher.affinity import Affinity
from services.dispatcher.domain import Dispatcher
from services.dispatcher.index_replica import IndexReplica, ReplicatedCandidateFinder
from services.dispatcher.metrics import DispatcherMetrics, JobGauges
from services.dispatcher.node_reports import NodeReports
from services.dispatcher.outcomes import SessionNotifier
from services.dispatcher.pending import PendingQueues
from services.dispatcher.placement import Placer
from services.dispatcher.pool_client import GrpcCandidateFinder
from services.dispatcher.recovery import Recovery
from services.dispatcher.router import GatewayRouter
from services.dispatcher.servicer import DispatcherServicer
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.slot_audit import SlotAudit
from services.dispatcher.store import TIMEOUT_BUCKETS, RedisJobStore
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
    scripts = LuaScripts(redis)
    store = RedisJobStore(
        redis,
        scripts,
        keys,
        live_ttl_ms=settings.job_ttl_ms,
        retention_ms=settings.job_retention_ms,
        metrics=metrics,
    )
    pool_channel = insecure_channel(settings.pool_address)
    # Outcomes are idempotent at the session (one answer per index); assignments are not
    # retried blindly (the dispatcher picks another node instead).
    gateways = ChannelCache(
        [retry_policy("lingua.gateway.v1.GatewayService", ["DeliverToSession"])]
    )
    router = GatewayRouter(store, gateways)
    replica = IndexReplica(pool_channel, LanguageIndex(shard_size=settings.shard_size))
    finder = ReplicatedCandidateFinder(replica, GrpcCandidateFinder(pool_channel))
    notifier = SessionNotifier(router, metrics)
    placer = Placer(
        store,
        finder,
        router,
        Affinity(store, settings.affinity_cache_size),
        clock,
        settings,
        metrics=metrics,
    )
    queues = PendingQueues(redis, scripts, keys)
    recovery = Recovery(store, queues, placer, notifier, router, clock, settings, finder.pairs_of)
    dispatcher = Dispatcher(store, placer, recovery, notifier, clock, settings)
    reports = NodeReports(store, recovery, notifier, clock, settings)
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
    pb_grpc.add_DispatcherServiceServicer_to_server(
        DispatcherServicer(dispatcher, reports, store, watch_hub), app.server
    )
    app.add_service_name(pb.DESCRIPTOR.services_by_name["DispatcherService"].full_name)
    app.run_in_background(replica.run)
    app.run_in_background(recovery.sweep_loop)
    app.run_in_background(recovery.follow_node_events)
    app.run_in_background(recovery.waiting.poll)
    audit = SlotAudit(store, recovery.waiting.slot_freed, settings.slot_audit_interval_ms)
    app.run_in_background(audit.run)
    app.on_close(lambda: close_redis(redis))
    app.on_close(lambda: pool_channel.close(None))
    app.on_close(gateways.close)
    return app
