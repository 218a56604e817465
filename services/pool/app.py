"""Wiring of the pool-index service."""

from __future__ import annotations

from lingua.pool.v1 import pool_service_pb2 as pb
from lingua.pool.v1 import pool_service_pb2_grpc as pb_grpc
from lingua_common.generation import DataGeneration
from lingua_common.grpc_app import ServiceApp
from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from services.pool.domain import PoolDirectory
from services.pool.metrics import watch_index
from services.pool.servicer import PoolServicer
from services.pool.settings import PoolSettings
from services.pool.store import RedisPoolStore


def build_app(settings: PoolSettings) -> ServiceApp:
    app = ServiceApp("pool", settings.server)
    redis = connect(settings.redis)
    app.on_startup(lambda: initialize(redis))
    keys = Keys(settings.redis.key_prefix)
    store = RedisPoolStore(
        redis, LuaScripts(redis, settings.redis.lua_dir), keys, settings.feed_maxlen
    )
    directory = PoolDirectory(store, LanguageIndex(shard_size=settings.shard_size))
    watch_index(app.metrics.registry, directory.index)
    pb_grpc.add_PoolServiceServicer_to_server(PoolServicer(directory), app.server)
    app.add_service_name(pb.DESCRIPTOR.services_by_name["PoolService"].full_name)
    app.on_startup(directory.load)
    generation = DataGeneration(redis, keys)
    generation.on_loss(directory.reload)
    app.on_startup(generation.start)
    app.run_in_background(generation.run)
    # The feed's blocking XREAD holds one pooled connection, never a shared one.
    app.run_in_background(directory.follow_feed)
    app.on_close(lambda: close_redis(redis))
    return app
