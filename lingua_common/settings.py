"""Settings every service shares: Redis, gRPC listen address and credentials, logging,
ready file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lingua_common.api_auth import ApiAuthSettings
from lingua_common.env import SettingsError, env_bool, env_int, env_str
from lingua_common.telemetry.tracing import TracingSettings


@dataclass(frozen=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:6379/0"
    cluster: bool = False
    key_prefix: str = "lingua:v1"
    # Generous: a burst must not fail with "Too many connections" (Redis takes 10,000).
    max_connections: int = 512
    # A Redis address that stops answering (a dead pod's IP) fails fast, not after minutes.
    connect_timeout_s: float = 1.0
    # Where the Lua scripts are read from; "" is the repository's lua/. Tests point a
    # stack at a doctored copy to prove a checker catches a broken build.
    lua_dir: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RedisSettings:
        lua_dir = env_str(env, "LINGUA_LUA_DIR", cls.lua_dir)
        if lua_dir:
            check_lua_dir(Path(lua_dir))
        return cls(
            url=env_str(env, "LINGUA_REDIS_URL", cls.url),
            cluster=env_bool(env, "LINGUA_REDIS_CLUSTER", cls.cluster),
            key_prefix=env_str(env, "LINGUA_KEY_PREFIX", cls.key_prefix),
            max_connections=env_int(env, "LINGUA_REDIS_MAX_CONNECTIONS", cls.max_connections),
            connect_timeout_s=env_int(env, "LINGUA_REDIS_CONNECT_TIMEOUT_MS", 1000) / 1000,
            lua_dir=lua_dir,
        )


REPOSITORY_LUA_DIR = Path(__file__).resolve().parent.parent / "lua"


def check_lua_dir(path: Path) -> None:
    """A Lua directory other than the repository's must hold every script it has: a
    script missing there would fail only when first run, deep inside a request."""
    if not path.is_dir():
        raise SettingsError(f"LINGUA_LUA_DIR {str(path)!r} is not a directory")
    missing = sorted(
        script.name
        for script in REPOSITORY_LUA_DIR.glob("*.lua")
        if not (path / script.name).is_file()
    )
    if missing:
        raise SettingsError(f"LINGUA_LUA_DIR {str(path)!r} lacks {', '.join(missing)}")


@dataclass(frozen=True)
class ServerSettings:
    """Where a service listens and how it reports and stops."""

    host: str = "127.0.0.1"
    grpc_port: int = 0
    # GET /metrics (Prometheus) on this port: 0 any free port, negative: no listener.
    metrics_port: int = 0
    # When set, the service writes its bound ports here as JSON once it serves.
    ready_file: str = ""
    shutdown_grace_s: float = 5.0
    log_format: str = "json"
    log_level: str = "INFO"
    # How often the service writes its lingua_* metrics to Redis for the console (which
    # reads every replica's there); 0: never. Only services that call publish_metrics.
    metrics_publish_ms: int = 2_000
    tracing: TracingSettings = field(default_factory=TracingSettings)
    # Who may call this service's gRPC APIs, and the credential it presents to the
    # others (api_auth.py). On unless LINGUA_AUTH_DISABLED=true.
    auth: ApiAuthSettings = field(default_factory=ApiAuthSettings)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], default_port: int, default_metrics_port: int = -1
    ) -> ServerSettings:
        return cls(
            host=env_str(env, "LINGUA_HOST", cls.host),
            grpc_port=env_int(env, "LINGUA_GRPC_PORT", default_port),
            metrics_port=env_int(env, "LINGUA_METRICS_PORT", default_metrics_port),
            ready_file=env_str(env, "LINGUA_READY_FILE", ""),
            shutdown_grace_s=float(env_int(env, "LINGUA_SHUTDOWN_GRACE_MS", 5000)) / 1000,
            log_format=env_str(env, "LINGUA_LOG_FORMAT", cls.log_format),
            log_level=env_str(env, "LINGUA_LOG_LEVEL", cls.log_level),
            metrics_publish_ms=env_int(env, "LINGUA_METRICS_PUBLISH_MS", cls.metrics_publish_ms),
            tracing=TracingSettings.from_env(env),
            auth=ApiAuthSettings.from_env(env),
        )
