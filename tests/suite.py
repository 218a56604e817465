"""All four services in the test's event loop: real gRPC servers, real WebSockets,
real Redis. Faster than subprocesses, so service-level tests can use many of them."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any

from lingua_common.api_auth import ApiAuthSettings
from lingua_common.clock import Clock, SystemClock
from lingua_common.grpc_app import ServiceApp
from lingua_common.settings import RedisSettings, ServerSettings
from services.dispatcher.app import build_app as build_dispatcher
from services.dispatcher.settings import DispatcherSettings
from services.gateway.app import build_app as build_gateway
from services.gateway.settings import AuthSettings, GatewaySettings
from services.pool.app import build_app as build_pool
from services.pool.settings import PoolSettings
from services.registry.app import build_app as build_registry
from services.registry.settings import RegistrySettings

STOP_TIMEOUT_S = 20.0
LOCAL = ServerSettings(
    host="127.0.0.1",
    grpc_port=0,
    log_format="text",
    shutdown_grace_s=1.0,
    # Tests run without credentials unless they configure `auth` (tests of auth do).
    auth=ApiAuthSettings(disabled=True),
)


def grpc_address(app: ServiceApp) -> str:
    return f"127.0.0.1:{app.ports['grpc']}"


def team_address(app: ServiceApp) -> str:
    """A dispatcher replica's team API (DispatcherService)."""
    return f"127.0.0.1:{app.ports['team']}"


@dataclass
class InProcessSuite:
    redis: RedisSettings
    gateways: int = 1
    # Dispatcher replicas; gateways spread their calls over all of them.
    dispatchers: int = 1
    # What every service listens with (e.g. LINGUA_METRICS_PUBLISH_MS=0 for tests that
    # publish to the metrics board themselves).
    server: ServerSettings = LOCAL
    clock: Clock = field(default_factory=SystemClock)
    registry_overrides: dict[str, Any] = field(default_factory=dict)
    dispatcher_overrides: dict[str, Any] = field(default_factory=dict)
    # A short offline grace keeps teardowns quick; tests of the grace set their own.
    gateway_overrides: dict[str, Any] = field(
        default_factory=lambda: {"node_offline_grace_ms": 100}
    )
    apps: list[ServiceApp] = field(default_factory=list)

    async def start(self) -> InProcessSuite:
        self.pool = await self._run(build_pool(PoolSettings(server=self.server, redis=self.redis)))
        pool_address = grpc_address(self.pool)
        self.registry = await self._run(
            build_registry(
                RegistrySettings(
                    server=self.server,
                    redis=self.redis,
                    pool_address=pool_address,
                    **self.registry_overrides,
                ),
                clock=self.clock,
            )
        )
        self.dispatcher_apps = []
        for _ in range(self.dispatchers):
            settings = dataclasses.replace(
                DispatcherSettings(server=self.server, redis=self.redis, pool_address=pool_address),
                **self.dispatcher_overrides,
            )
            self.dispatcher_apps.append(
                await self._run(build_dispatcher(settings, clock=self.clock))
            )
        self.dispatcher = self.dispatcher_apps[0]
        self.gateway_apps = []
        for i in range(self.gateways):
            settings = GatewaySettings(
                server=self.server,
                redis=self.redis,
                gateway_id=f"gw-{i}",
                ws_port=0,
                registry_address=grpc_address(self.registry),
                dispatcher_address=self.dispatcher_target,
                # Tests run without credentials unless they configure `auth` in overrides.
                auth=AuthSettings(disabled=True),
            )
            settings = dataclasses.replace(settings, **self.gateway_overrides)
            self.gateway_apps.append(await self._run(build_gateway(settings, clock=self.clock)))
        return self

    async def _run(self, app: ServiceApp) -> ServiceApp:
        await app.start()
        self.apps.append(app)
        return app

    @property
    def dispatcher_target(self) -> str:
        """Every dispatcher replica as one gRPC target (round robin)."""
        if len(self.dispatcher_apps) == 1:
            return grpc_address(self.dispatcher)
        return "ipv4:" + ",".join(grpc_address(app) for app in self.dispatcher_apps)

    @property
    def service_metadata(self) -> tuple[tuple[str, str], ...]:
        """What a test presents to call the service-to-service API as the services do."""
        token = self.server.auth.service_token
        return (("authorization", f"Bearer {token}"),) if token else ()

    @property
    def team_target(self) -> str:
        """The team API of every dispatcher replica as one gRPC target (round robin)."""
        if len(self.dispatcher_apps) == 1:
            return team_address(self.dispatcher)
        return "ipv4:" + ",".join(team_address(app) for app in self.dispatcher_apps)

    def ws_url(self, gateway: int = 0) -> str:
        return f"ws://127.0.0.1:{self.gateway_apps[gateway].ports['ws']}"

    async def stop(self) -> None:
        for app in reversed(self.apps):
            try:
                await asyncio.wait_for(app.stop(), STOP_TIMEOUT_S)
            except TimeoutError:
                stacks = io.StringIO()
                for task in asyncio.all_tasks():
                    task.print_stack(limit=8, file=stacks)
                raise AssertionError(
                    f"{app.name} did not stop within {STOP_TIMEOUT_S}s; tasks:\n{stacks.getvalue()}"
                ) from None
        self.apps = []
