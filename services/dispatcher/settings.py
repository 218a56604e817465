"""Dispatcher settings, built from the environment once in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import env_int, env_str
from lingua_common.settings import RedisSettings, ServerSettings


@dataclass(frozen=True)
class DispatcherSettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    pool_address: str = "127.0.0.1:50052"
    # A live job record outlives any sane job; a terminal one is kept for inspection.
    job_ttl_ms: int = 3600 * 1000
    job_retention_ms: int = 600 * 1000
    candidate_sample: int = 8
    selection_rounds: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherSettings:
        return cls(
            server=ServerSettings.from_env(env, default_port=50053),
            redis=RedisSettings.from_env(env),
            pool_address=env_str(env, "LINGUA_POOL_ADDRESS", cls.pool_address),
            job_ttl_ms=env_int(env, "LINGUA_JOB_TTL_MS", cls.job_ttl_ms),
            job_retention_ms=env_int(env, "LINGUA_JOB_RETENTION_MS", cls.job_retention_ms),
            candidate_sample=env_int(env, "LINGUA_CANDIDATE_SAMPLE", cls.candidate_sample),
            selection_rounds=env_int(env, "LINGUA_SELECTION_ROUNDS", cls.selection_rounds),
        )
