"""The stack under test and its fleet of nodes, and which gateway holds what.

Three gateway replicas, so each kind of gateway failure has a victim of its own:
gateway-0 holds only nodes, gateway-1 only sessions, gateway-2 both. Nodes spread over
gateway-0 and gateway-2, sessions over gateway-1 and gateway-2. Two dispatchers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from pathlib import Path
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import RedisClient, connect
from lingua_common.redis_client import close as close_redis
from lingua_common.settings import RedisSettings
from tools.chaos.config import ChaosConfig
from tools.fleet import FakeNode, FleetConfig
from tools.fleet.client import ClientConfig
from tools.launcher.processes import ServiceProcess
from tools.launcher.redis_server import RedisServer
from tools.launcher.stack import Stack, StackConfig
from tools.launcher.supervisor import Child

NODES_ONLY, SESSIONS_ONLY, MIXED = 0, 1, 2
DISPATCHERS = 2
REGISTER_TIMEOUT_S = 20.0
# Nodes reconnect as the network's real agent does (heartbeat timer outliving the
# socket, previous id), with a shorter back-off than its 5 s ... 60 s so a phase is short.
AGENT_BACKOFF_S = (1.0, 5.0)
# Far more than a phase sends: clients stop when told to.
UNBOUNDED_UTTERANCES = 1_000_000


class World:
    def __init__(self, config: ChaosConfig, run_dir: Path) -> None:
        self.config = config
        self.stack = Stack(
            StackConfig(
                gateway_ws_ports=(0, 0, 0),
                dispatchers=DISPATCHERS,
                run_dir=run_dir,
                env=config.service_env(),
                log_level=config.log_level,
            )
        )
        self.nodes: list[FakeNode] = []
        self._fleet: FleetConfig | None = None
        self._redis_client: RedisClient | None = None
        # The services' key prefix (LINGUA_KEY_PREFIX from the environment or the config).
        self.keys = Keys(RedisSettings.from_env({**os.environ, **config.service_env()}).key_prefix)

    # --- who holds what ------------------------------------------------------------------

    @property
    def node_gateway(self) -> ServiceProcess:
        """The gateway that holds nodes and no session."""
        return self.stack.gateways[NODES_ONLY]

    @property
    def session_gateway(self) -> ServiceProcess:
        """The gateway that holds sessions and no node."""
        return self.stack.gateways[SESSIONS_ONLY]

    @property
    def redis(self) -> RedisServer:
        assert isinstance(self.stack.redis, RedisServer)
        return self.stack.redis

    @property
    def session_urls(self) -> tuple[str, ...]:
        urls = self.stack.gateway_urls
        return (urls[SESSIONS_ONLY], urls[MIXED])

    @property
    def redis_client(self) -> RedisClient:
        """The harness's own client of the stack's Redis (to read what it holds)."""
        if self._redis_client is None:
            self._redis_client = connect(RedisSettings(url=self.stack.redis_url))
        return self._redis_client

    @staticmethod
    def url_of(gateway: ServiceProcess) -> str:
        return f"ws://127.0.0.1:{gateway.ports['ws']}"

    def nodes_on(self, gateway: ServiceProcess) -> list[FakeNode]:
        return [node for node in self.nodes if node.config.url == self.url_of(gateway)]

    def session_config(self, index: int, run_id: str) -> ClientConfig:
        """Session `index` of a phase: one-way and two-way sessions alternate."""
        fleet = dataclasses.replace(self._fleet_config(), run_id=run_id)
        return fleet.client_config(index)

    def node_counters(self) -> list[dict[str, Any]]:
        keep = ("assigned", "completed", "cancelled", "refused", "drops", "registrations")
        return [
            {"node": n.config.name, "node_id": n.node_id, "url": n.config.url}
            | {k: getattr(n.stats, k) for k in keep}
            for n in self.nodes
        ]

    def dead(self) -> list[str]:
        """Processes of the stack that are not running (none should be, between faults)."""
        children: list[Child] = [self.redis, *self.stack.services]
        return [child.name for child in children if child.exit_code() is not None]

    # --- lifecycle ---------------------------------------------------------------------------

    def start_stack(self) -> None:
        """Blocking (the processes start from this, the main, thread: tethered)."""
        self.stack.start()

    async def start_nodes(self) -> None:
        fleet = self._fleet_config()
        self.nodes = [FakeNode(fleet.node_config(i)) for i in range(fleet.nodes)]
        for node in self.nodes:
            node.start()
        await asyncio.gather(*(n.wait_registered(REGISTER_TIMEOUT_S) for n in self.nodes))

    async def stop_nodes(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))
        if self._redis_client is not None:
            await close_redis(self._redis_client)
            self._redis_client = None

    def stop_stack(self) -> dict[str, int | None]:
        return self.stack.stop()

    def _fleet_config(self) -> FleetConfig:
        if self._fleet is None:
            cfg = self.config
            urls = self.stack.gateway_urls
            sessions = cfg.sessions
            self._fleet = FleetConfig(
                urls=(urls[NODES_ONLY], urls[MIXED]),
                client_urls=self.session_urls,
                nodes=cfg.nodes,
                clients=sessions - sessions // 2,
                two_way_clients=sessions // 2,
                two_way_pair=cfg.pairs[0],
                pairs=cfg.pairs,
                processing_ms=cfg.processing_ms,
                jitter_ms=cfg.jitter_ms,
                utterances=UNBOUNDED_UTTERANCES,
                job_rate=cfg.rate,
                heartbeat_interval_s=cfg.heartbeat_s,
                answer_timeout_s=cfg.answer_wait_s,
                register_timeout_s=REGISTER_TIMEOUT_S,
                reconnecting_nodes=cfg.nodes,
                agent_backoff_s=AGENT_BACKOFF_S,
                seed=cfg.seed,
            )
        return self._fleet
