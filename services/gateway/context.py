"""What every connection handler of one gateway replica shares."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from services.gateway.dispatcher_links import DispatcherLinks
from services.gateway.groups import RedisGroupStore
from services.gateway.heartbeat_uplink import HeartbeatUplink
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings
from services.gateway.store import RedisGatewayStore

if TYPE_CHECKING:
    from services.gateway.node_link import NodeLink
    from services.gateway.recovery import GatewayRecovery
    from services.gateway.session_link import SessionLink


OFFLINE_REPORTS_AT_ONCE = 64


@dataclass
class GatewayContext:
    settings: GatewaySettings
    clock: Clock
    store: RedisGatewayStore
    registry: registry_grpc.RegistryServiceStub
    # The job path: one link to each dispatcher replica.
    links: DispatcherLinks
    heartbeats: HeartbeatUplink
    # Utterance groups: session state in Redis, shared by every replica.
    groups: RedisGroupStore
    nodes: dict[str, NodeLink] = field(default_factory=dict)
    sessions: dict[str, SessionLink] = field(default_factory=dict)
    # Sessions with a pending cut or unanswered utterances: the ticker visits only these.
    active_sessions: set[SessionLink] = field(default_factory=set)
    draining: bool = False
    # What this replica keeps in Redis, written back after a data loss (set at wiring).
    recovery: GatewayRecovery = field(init=False)
    # Work that outlives a connection (e.g. a node's offline after its grace).
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)
    # Offline reports of closed node sockets under way at once (the rest wait).
    offline_reports: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(OFFLINE_REPORTS_AT_ONCE)
    )

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro)

    @property
    def gateway_id(self) -> str:
        return self.settings.gateway_id

    @property
    def rpc_timeout_s(self) -> float:
        return self.settings.rpc_timeout_ms / 1000
