"""Registry settings, built from the environment once in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import env_float, env_int, env_str
from lingua_common.settings import RedisSettings, ServerSettings


@dataclass(frozen=True)
class HealthPolicy:
    """When a node is fit for jobs."""

    required_service_types: tuple[str, ...] = ("asr", "nmt")
    max_gpu_percent: float = 100.0
    max_gpu_mem_percent: float = 95.0
    max_mem_percent: float = 95.0
    # This many failed jobs in a row degrade a node until the cooldown has passed.
    failures_to_degrade: int = 3
    failure_cooldown_ms: int = 60_000


@dataclass(frozen=True)
class RegistrySettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    pool_address: str = "127.0.0.1:50052"
    heartbeat_interval_ms: int = 15_000
    # A node unheard for this many intervals is offline.
    offline_after_intervals: int = 3
    ready_after_beats: int = 1
    default_max_jobs: int = 4
    record_ttl_ms: int = 24 * 3600 * 1000
    sweep_interval_ms: int = 1_000
    event_feed_maxlen: int = 100_000
    history_length: int = 50
    # Anti-entropy for index updates lost in a crash: rare, so cheap and spread out.
    reconcile_interval_ms: int = 300_000
    health: HealthPolicy = field(default_factory=HealthPolicy)
    # What a job of the default pipeline needs ready: a node lacking any of these (or
    # serving no pair) is registered "not serving", with the reason.
    pipeline_types: tuple[str, ...] = ("asr", "nmt", "tts")

    @property
    def offline_after_ms(self) -> int:
        return self.heartbeat_interval_ms * self.offline_after_intervals

    @property
    def owner_ttl_ms(self) -> int:
        # Outlives the offline window, so a live node's owner never lapses first.
        return self.offline_after_ms + self.heartbeat_interval_ms

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegistrySettings:
        required = env_str(env, "LINGUA_REQUIRED_SERVICE_TYPES", "asr,nmt")
        pipeline = env_str(env, "LINGUA_PIPELINE_SERVICE_TYPES", "asr,nmt,tts")
        return cls(
            server=ServerSettings.from_env(env, default_port=50051, default_metrics_port=9101),
            redis=RedisSettings.from_env(env),
            pool_address=env_str(env, "LINGUA_POOL_ADDRESS", cls.pool_address),
            heartbeat_interval_ms=env_int(
                env, "LINGUA_HEARTBEAT_INTERVAL_MS", cls.heartbeat_interval_ms
            ),
            offline_after_intervals=env_int(
                env, "LINGUA_OFFLINE_AFTER_INTERVALS", cls.offline_after_intervals
            ),
            ready_after_beats=env_int(env, "LINGUA_READY_AFTER_BEATS", cls.ready_after_beats),
            default_max_jobs=env_int(env, "LINGUA_NODE_MAX_JOBS", cls.default_max_jobs),
            sweep_interval_ms=env_int(env, "LINGUA_SWEEP_INTERVAL_MS", cls.sweep_interval_ms),
            reconcile_interval_ms=env_int(
                env, "LINGUA_RECONCILE_INTERVAL_MS", cls.reconcile_interval_ms
            ),
            pipeline_types=tuple(t for t in pipeline.split(",") if t),
            health=HealthPolicy(
                required_service_types=tuple(t for t in required.split(",") if t),
                max_gpu_percent=env_float(env, "LINGUA_MAX_GPU_PERCENT", 100.0),
                max_gpu_mem_percent=env_float(env, "LINGUA_MAX_GPU_MEM_PERCENT", 95.0),
                max_mem_percent=env_float(env, "LINGUA_MAX_MEM_PERCENT", 95.0),
                failures_to_degrade=env_int(env, "LINGUA_FAILURES_TO_DEGRADE", 3),
                failure_cooldown_ms=env_int(env, "LINGUA_FAILURE_COOLDOWN_MS", 60_000),
            ),
        )
