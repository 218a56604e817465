"""The whole suite as child processes: redis (private, unless given), pool, registry,
dispatcher(s) and gateway replicas, each started only after what it needs is healthy.
Every service gets the stack's credentials (credentials.py); authentication is off
unless the config's environment says LINGUA_AUTH_DISABLED=false."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools.launcher.credentials import LocalCredentials
from tools.launcher.processes import ServiceProcess
from tools.launcher.redis_server import RedisClusterServers, RedisServer
from tools.launcher.supervisor import Child

STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class StackConfig:
    # None: start a private redis-server on a free port.
    redis_url: str | None = None
    redis_cluster: bool = False
    # Replicas per master of the private cluster (failover tests need at least 1).
    redis_cluster_replicas: int = 0
    # One gateway replica per entry; 0 picks a free port.
    gateway_ws_ports: tuple[int, ...] = (5010, 0)
    dispatchers: int = 1
    # The team API port of each dispatcher replica (missing entries, and 0: a free port).
    team_ports: tuple[int, ...] = ()
    # One console replica per entry (its HTTP port; 0 picks a free port); `make up` runs one.
    console_http_ports: tuple[int, ...] = ()
    run_dir: Path | None = None
    # Extra environment for every service (e.g. LINGUA_HEARTBEAT_INTERVAL_MS).
    env: Mapping[str, str] = field(default_factory=dict)
    log_format: str = "json"
    log_level: str = "INFO"
    # None: the credentials `env` gives, the others generated for this stack.
    credentials: LocalCredentials | None = None


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.run_dir = config.run_dir or Path(tempfile.mkdtemp(prefix="lingua-run-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.redis: RedisServer | RedisClusterServers | None = None
        self.redis_url = config.redis_url or ""
        self.credentials = config.credentials or LocalCredentials.from_env(config.env)
        self.pool: ServiceProcess | None = None
        self.registry: ServiceProcess | None = None
        self.dispatchers: list[ServiceProcess] = []
        self.gateways: list[ServiceProcess] = []
        self.consoles: list[ServiceProcess] = []

    # --- addresses --------------------------------------------------------------------------

    @property
    def auth_disabled(self) -> bool:
        return self.config.env.get("LINGUA_AUTH_DISABLED", "true") == "true"

    @property
    def team_address(self) -> str:
        """The first dispatcher replica's team API (DispatcherService)."""
        return f"127.0.0.1:{self.dispatchers[0].ports['team']}"

    @property
    def gateway_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{g.ports['ws']}" for g in self.gateways]

    @property
    def services(self) -> list[ServiceProcess]:
        head = [p for p in (self.pool, self.registry) if p is not None]
        return head + self.dispatchers + self.gateways + self.consoles

    @property
    def console_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{c.ports['http']}" for c in self.consoles]

    @property
    def supervised(self) -> list[Child]:
        """What a supervisor restarts when it dies: the private redis-server (a cluster's
        nodes are not restarted) and every service."""
        redis: list[Child] = [self.redis] if isinstance(self.redis, RedisServer) else []
        return redis + list(self.services)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Stack:
        try:
            self._start_redis()
            self.pool = self._spawn("pool", "services.pool", {})
            self.pool.wait_ready()
            self.registry = self._spawn(
                "registry", "services.registry", {"LINGUA_POOL_ADDRESS": self.pool.grpc_address}
            )
            team_ports = self.config.team_ports
            self.dispatchers = [
                self._spawn(
                    f"dispatcher-{i}",
                    "services.dispatcher",
                    {
                        "LINGUA_POOL_ADDRESS": self.pool.grpc_address,
                        "LINGUA_TEAM_PORT": str(team_ports[i] if i < len(team_ports) else 0),
                    },
                )
                for i in range(self.config.dispatchers)
            ]
            for service in [self.registry, *self.dispatchers]:
                service.wait_ready()
            self.gateways = [
                self._spawn_gateway(i, port) for i, port in enumerate(self.config.gateway_ws_ports)
            ]
            self.consoles = [
                self._spawn_console(i, port)
                for i, port in enumerate(self.config.console_http_ports)
            ]
            for service in [*self.gateways, *self.consoles]:
                service.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_redis(self) -> None:
        if self.config.redis_url:
            return
        if self.config.redis_cluster:
            cluster = RedisClusterServers(
                masters=3, replicas=self.config.redis_cluster_replicas
            ).start()
            self.redis, self.redis_url = cluster, cluster.url
        else:
            server = RedisServer().start()
            self.redis, self.redis_url = server, server.url

    def _spawn_gateway(self, index: int, ws_port: int) -> ServiceProcess:
        assert self.registry is not None
        # Every dispatcher replica, round-robin: a gateway survives losing one of them.
        dispatchers = ",".join(d.grpc_address for d in self.dispatchers)
        return self._spawn(
            f"gateway-{index}",
            "services.gateway",
            {
                "LINGUA_GATEWAY_ID": f"gateway-{index}",
                "LINGUA_WS_PORT": str(ws_port),
                "LINGUA_REGISTRY_ADDRESS": self.registry.grpc_address,
                "LINGUA_DISPATCHER_ADDRESS": f"ipv4:{dispatchers}",
            },
        )

    def _spawn_console(self, index: int, http_port: int) -> ServiceProcess:
        assert self.registry is not None and self.pool is not None
        teams = ",".join(f"127.0.0.1:{d.ports['team']}" for d in self.dispatchers)
        return self._spawn(
            f"console-{index}",
            "services.console",
            {
                "LINGUA_CONSOLE_PORT": str(http_port),
                "LINGUA_REGISTRY_ADDRESS": self.registry.grpc_address,
                "LINGUA_POOL_ADDRESS": self.pool.grpc_address,
                "LINGUA_DISPATCHER_TEAM_ADDRESS": f"ipv4:{teams}",
            },
        )

    def _spawn(self, name: str, module: str, env: dict[str, str]) -> ServiceProcess:
        full_env = {
            "LINGUA_REDIS_URL": self.redis_url,
            "LINGUA_REDIS_CLUSTER": "true" if self.config.redis_cluster else "false",
            "LINGUA_GRPC_PORT": "0",
            # Several replicas of one service share the host: every port is a free one.
            "LINGUA_METRICS_PORT": "0",
            "LINGUA_LOG_FORMAT": self.config.log_format,
            "LINGUA_LOG_LEVEL": self.config.log_level,
            **self.credentials.env(),
            # Local runs take callers without credentials (each service logs a warning);
            # a config that sets LINGUA_AUTH_DISABLED itself decides.
            "LINGUA_AUTH_DISABLED": "true",
            **self.config.env,
            **env,
        }
        service = ServiceProcess(name=name, module=module, env=full_env, run_dir=self.run_dir)
        service.start()
        return service

    def stop(self) -> dict[str, int | None]:
        """Stop in reverse dependency order; returns each service's exit code."""
        codes: dict[str, int | None] = {}
        for tier in (
            self.consoles,
            self.gateways,
            self.dispatchers,
            [self.registry],
            [self.pool],
        ):
            live = [s for s in tier if s is not None]
            for service in live:
                service.terminate()
            for service in live:
                codes[service.name] = service.wait_stopped(STOP_TIMEOUT_S)
        if isinstance(self.redis, RedisServer | RedisClusterServers):
            self.redis.cleanup()
        self.redis = None
        return codes
