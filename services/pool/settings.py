"""Pool-index settings, built from the environment once in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import env_int
from lingua_common.settings import RedisSettings, ServerSettings


@dataclass(frozen=True)
class PoolSettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    feed_maxlen: int = 100_000
    # A pair with more members than this is split into several pools (shards).
    shard_size: int = 100

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PoolSettings:
        return cls(
            server=ServerSettings.from_env(env, default_port=50052, default_metrics_port=9102),
            redis=RedisSettings.from_env(env),
            feed_maxlen=env_int(env, "LINGUA_INDEX_FEED_MAXLEN", cls.feed_maxlen),
            shard_size=env_int(env, "LINGUA_POOL_SHARD_SIZE", cls.shard_size),
        )
