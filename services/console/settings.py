"""Console settings, built from the environment once in main."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import SettingsError, env_int, env_str
from lingua_common.operator_auth import CallCredentials, ConsoleAuth
from lingua_common.settings import RedisSettings, ServerSettings


@dataclass(frozen=True)
class ConsoleSettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    registry_address: str = "127.0.0.1:50051"
    pool_address: str = "127.0.0.1:50052"
    # The dispatcher's team API (ListJobs, CancelJob), on its team port.
    dispatcher_address: str = "127.0.0.1:50055"
    # The page and its API (0: any free port).
    http_port: int = 8090
    auth: ConsoleAuth = field(default_factory=lambda: ConsoleAuth(disabled=True))
    # What the console presents on its own gRPC calls.
    credentials: CallCredentials = field(default_factory=CallCredentials)
    # One refresh of nodes, pools and load (and one chart point) per interval.
    sample_interval_ms: int = 2_000
    # Chart points kept (300 x 2 s: the last 10 minutes).
    history_points: int = 300
    # Latency percentiles on the charts are over this window of points.
    latency_window_ms: int = 30_000
    # Nodes listed per refresh at most (the page says when there are more).
    max_nodes: int = 2_000
    # Recent failures are looked up this often (a bounded scan of the dispatcher's jobs).
    failures_interval_ms: int = 10_000
    failures_shown: int = 20
    # Live pages (SSE streams) at once; one more is refused with 503.
    max_live_clients: int = 100
    # A trace link for a trace id: "{trace_id}" is replaced (e.g. Jaeger's /trace/{trace_id}).
    trace_url: str = ""

    @property
    def board_max_age_ms(self) -> int:
        """A replica that published within this is live (3 of its publish intervals)."""
        return 3 * max(self.server.metrics_publish_ms, self.sample_interval_ms)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConsoleSettings:
        settings = cls(
            server=ServerSettings.from_env(env, default_port=50056, default_metrics_port=9105),
            redis=RedisSettings.from_env(env),
            registry_address=env_str(env, "LINGUA_REGISTRY_ADDRESS", cls.registry_address),
            pool_address=env_str(env, "LINGUA_POOL_ADDRESS", cls.pool_address),
            dispatcher_address=env_str(
                env, "LINGUA_DISPATCHER_TEAM_ADDRESS", cls.dispatcher_address
            ),
            http_port=env_int(env, "LINGUA_CONSOLE_PORT", cls.http_port),
            auth=ConsoleAuth.from_env(env),
            credentials=CallCredentials.from_env(env),
            sample_interval_ms=env_int(env, "LINGUA_CONSOLE_SAMPLE_MS", cls.sample_interval_ms),
            history_points=env_int(env, "LINGUA_CONSOLE_HISTORY_POINTS", cls.history_points),
            max_nodes=env_int(env, "LINGUA_CONSOLE_MAX_NODES", cls.max_nodes),
            max_live_clients=env_int(env, "LINGUA_CONSOLE_MAX_CLIENTS", cls.max_live_clients),
            trace_url=env_str(env, "LINGUA_TRACE_URL", ""),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 100 <= self.sample_interval_ms <= 60_000:
            raise SettingsError("LINGUA_CONSOLE_SAMPLE_MS must be within 100..60000")
        if not 1 <= self.history_points <= 10_000:
            raise SettingsError("LINGUA_CONSOLE_HISTORY_POINTS must be within 1..10000")
        if not 1 <= self.max_nodes <= 100_000:
            raise SettingsError("LINGUA_CONSOLE_MAX_NODES must be within 1..100000")
        if not 1 <= self.max_live_clients <= 10_000:
            raise SettingsError("LINGUA_CONSOLE_MAX_CLIENTS must be within 1..10000")
