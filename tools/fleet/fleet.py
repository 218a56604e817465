"""A fleet of fake nodes and clients in one process, sharing one latency recorder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from tools.fleet.answers import Answer, ClientReport
from tools.fleet.client import ClientConfig, FakeClient, Mode
from tools.fleet.metrics import LatencyRecorder
from tools.fleet.node import FakeNode, NodeConfig, NodeEvent
from tools.fleet.node_caps import Pair
from tools.fleet.report import FleetReport, build_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetConfig:
    # Nodes then clients take these round-robin as one sequence, so with two URLs,
    # one node and one client, the node lands on the first and the client on the second.
    urls: tuple[str, ...] = ("ws://127.0.0.1:5010",)
    client_urls: tuple[str, ...] = ()  # when set, clients go round-robin over these instead
    nodes: int = 2
    clients: int = 1
    pairs: tuple[Pair, ...] = (("zh", "en"),)  # served by every node; client i uses pair i
    processing_ms: float = 50.0
    jitter_ms: float = 0.0
    failure_rate: float = 0.0
    empty_rate: float = 0.0
    max_in_flight: int = 4
    utterances: int = 10  # per client
    interval_s: float = 1.0  # per client, start to start
    job_rate: float | None = None  # utterances/s over all clients; overrides interval_s
    mode: Mode = "utterance"
    packets_per_utterance: int = 10
    chunk_packets: int = 3
    chunk_interval_s: float = 0.05
    heartbeat_interval_s: float = 15.0
    client_heartbeat_s: float = 30.0
    node_ramp_s: float = 0.0  # nodes start spread over this time
    client_ramp_s: float = 0.0  # clients start spread over this time
    register_timeout_s: float = 10.0
    answer_timeout_s: float = 15.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 5.0
    duration_s: float | None = None  # stop sending after this long
    token: str | None = None
    api_key: str | None = None
    tenant_id: str | None = None
    send_session_close: bool = False
    tts_bytes: int = 0
    seed: int = 0
    run_id: str = "fleet"  # prefix of client names, which seed their audio
    # Clients in two-way mode (the web client's default), after the one-way ones: they
    # speak `two_way_pair` in turns, which the nodes must serve in both directions.
    two_way_clients: int = 0
    two_way_pair: Pair = ("zh", "en")
    playback_s: float = 0.3  # how long a client "plays" each result's TTS
    # The last this many nodes reconnect as the real agent does (heartbeat timer outliving
    # the socket, previous id, back-off `agent_backoff_s`), their socket dropping every
    # `drop_every_s` (None: only when the network does).
    reconnecting_nodes: int = 0
    drop_every_s: float | None = None
    agent_backoff_s: tuple[float, float] = (5.0, 60.0)

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("at least one gateway URL is needed")
        if self.nodes < 0 or self.clients < 0 or self.utterances < 0:
            raise ValueError("nodes, clients and utterances must be >= 0")
        if not self.pairs:
            raise ValueError("at least one language pair is needed")
        rates = (self.failure_rate, self.empty_rate)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0:
            raise ValueError("failure_rate and empty_rate must be within 0..1 and sum to <= 1")
        if self.job_rate is not None and self.job_rate <= 0:
            raise ValueError("job_rate must be > 0")
        if self.packets_per_utterance < 1 or self.chunk_packets < 1 or self.max_in_flight < 1:
            raise ValueError("packets, chunk packets and max in flight must be >= 1")
        if not 0 <= self.reconnecting_nodes <= self.nodes or self.two_way_clients < 0:
            raise ValueError("reconnecting nodes must be within 0..nodes, two-way clients >= 0")
        a, b = self.two_way_pair
        if self.two_way_clients and not {(a, b), (b, a)} <= set(self.pairs):
            raise ValueError(f"two-way clients need the nodes to serve {a}:{b} and {b}:{a}")

    @property
    def all_clients(self) -> int:
        return self.clients + self.two_way_clients

    def client_interval_s(self) -> float:
        if self.job_rate is not None:
            return max(1, self.all_clients) / self.job_rate
        return self.interval_s

    def node_url(self, i: int) -> str:
        return self.urls[i % len(self.urls)]

    def client_url(self, i: int) -> str:
        if self.client_urls:
            return self.client_urls[i % len(self.client_urls)]
        return self.urls[(self.nodes + i) % len(self.urls)]

    def node_config(self, i: int) -> NodeConfig:
        agent = i >= self.nodes - self.reconnecting_nodes  # reconnects as the real agent
        initial_s, max_s = (
            self.agent_backoff_s if agent else (self.reconnect_initial_s, self.reconnect_max_s)
        )
        return NodeConfig(
            url=self.node_url(i),
            heartbeat_outlives_socket=agent,
            drop_every_s=self.drop_every_s if agent else None,
            pairs=self.pairs,
            name=f"node-{i}",
            processing_ms=self.processing_ms,
            jitter_ms=self.jitter_ms,
            failure_rate=self.failure_rate,
            empty_rate=self.empty_rate,
            max_in_flight=self.max_in_flight,
            heartbeat_interval_s=self.heartbeat_interval_s,
            reconnect_initial_s=initial_s,
            reconnect_max_s=max_s,
            register_timeout_s=self.register_timeout_s,
            token=self.token,
            tts_bytes=self.tts_bytes,
            seed=self.seed + i,
        )

    def client_config(self, i: int) -> ClientConfig:
        two_way = i >= self.clients
        src, tgt = self.two_way_pair if two_way else self.pairs[i % len(self.pairs)]
        return ClientConfig(
            url=self.client_url(i),
            src_lang=src,
            tgt_lang=tgt,
            two_way=self.two_way_pair if two_way else None,
            playback_s=self.playback_s,
            name=f"{self.run_id}-{'tw' if two_way else 'c'}{i}",
            mode=self.mode,
            utterances=self.utterances,
            interval_s=self.client_interval_s(),
            packets_per_utterance=self.packets_per_utterance,
            chunk_packets=self.chunk_packets,
            chunk_interval_s=self.chunk_interval_s,
            heartbeat_interval_s=self.client_heartbeat_s,
            answer_timeout_s=self.answer_timeout_s,
            api_key=self.api_key,
            tenant_id=self.tenant_id,
            send_session_close=self.send_session_close,
        )


class Fleet:
    def __init__(
        self,
        config: FleetConfig,
        on_result: Callable[[Answer], None] | None = None,
        on_node_event: NodeEvent | None = None,
    ) -> None:
        self.config = config
        self.recorder = LatencyRecorder()
        self.nodes = [
            FakeNode(config.node_config(i), self.recorder, on_node_event)
            for i in range(config.nodes)
        ]
        self.clients: list[FakeClient] = []
        self._on_result = on_result
        self._client_reports: list[ClientReport] = []
        self._duration_s = 0.0
        self._sending_stopped = False

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start every node and wait until all are registered (TimeoutError otherwise)."""
        step = self.config.node_ramp_s / max(1, len(self.nodes))
        for i, node in enumerate(self.nodes):
            if i and step > 0:
                await asyncio.sleep(step)
            node.start()
        waits = [n.wait_registered(self.config.register_timeout_s) for n in self.nodes]
        results = await asyncio.gather(*waits, return_exceptions=True)
        missing = sum(1 for r in results if isinstance(r, BaseException))
        if missing:
            raise TimeoutError(f"{missing} of {len(self.nodes)} nodes did not register")
        log.info("%d nodes registered", len(self.nodes))

    async def run_clients(self) -> FleetReport:
        """Run every client to its end (bounded by counts, duration and answer timeout)."""
        cfg = self.config
        self.clients = [
            FakeClient(cfg.client_config(i), self.recorder, self._on_result)
            for i in range(cfg.all_clients)
        ]
        if self._sending_stopped:
            self.stop_sending()
        step = cfg.client_ramp_s / max(1, len(self.clients))
        started = time.perf_counter()
        timer = asyncio.create_task(self._stop_sending_after(cfg.duration_s))
        try:
            runs = [self._run_client(c, i * step) for i, c in enumerate(self.clients)]
            self._client_reports = list(await asyncio.gather(*runs))
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._duration_s = time.perf_counter() - started
        return self.report()

    def stop_sending(self) -> None:
        """End the run early: clients send nothing more and wait for what is outstanding."""
        self._sending_stopped = True
        for client in self.clients:
            client.stop_sending()

    def abort(self) -> None:
        """End the run now: clients neither send nor wait for outstanding answers."""
        self.stop_sending()
        for client in self.clients:
            client.abort()

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))

    def report(self) -> FleetReport:
        nodes = [(n.stats, n.node_id is not None) for n in self.nodes]
        return build_report(
            self._client_reports, nodes, self.recorder.summaries(), self._duration_s
        )

    async def _run_client(self, client: FakeClient, delay_s: float) -> ClientReport:
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return await client.run()

    async def _stop_sending_after(self, duration_s: float | None) -> None:
        if duration_s is None:
            return
        await asyncio.sleep(duration_s)
        self.stop_sending()
