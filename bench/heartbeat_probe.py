"""Heartbeat cost at the registry: direct RegistryService.Heartbeat calls at a fixed rate.

The wire protocol has no heartbeat reply, so the scheduler-side cost of one beat is
measured where the gateway would pay it: one unary gRPC call. Calls are fired on a
fixed schedule (open loop, so a slow call does not hide the ones behind it), over one
channel, each timed with perf_counter. Count, concurrency and time are all bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc

from bench import probe_node
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.channels import BearerChannel
from tools.fleet.metrics import LatencySummary, summarize

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 5.0
MAX_CONCURRENT = 256  # beyond this many calls outstanding a scheduled call is skipped
GATEWAY_ID = "bench-heartbeat-probe"
SLOW_CALL_S = 0.020  # calls slower than this are listed with their time, to find patterns
MAX_SLOW_CALLS = 500


@dataclass(frozen=True)
class ProbeConfig:
    address: str
    nodes: int
    rate: float  # Heartbeat calls/s
    duration_s: float
    # The service credential the registry asks for (the stack's; "" with auth off).
    service_token: str = ""


@dataclass
class ProbeReport:
    registered: int = 0
    planned: int = 0
    completed: int = 0
    skipped: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    achieved_rate: float = 0.0
    register: LatencySummary = field(default_factory=lambda: summarize([]))
    heartbeat: LatencySummary = field(default_factory=lambda: summarize([]))
    # (seconds into the run, milliseconds) of calls slower than SLOW_CALL_S (capped)
    slow_calls: list[tuple[float, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "registered": self.registered,
            "planned": self.planned,
            "completed": self.completed,
            "skipped": self.skipped,
            "errors": self.errors,
            "achieved_rate": self.achieved_rate,
            "register": self.register.as_dict(),
            "heartbeat": self.heartbeat.as_dict(),
            "slow_calls": [[round(at, 3), round(ms, 1)] for at, ms in self.slow_calls],
        }


class HeartbeatProbe:
    """`run()` does it all; or, to do something between the steps (e.g. read the index
    version once the probe nodes are in it): `open()`, `measure()`, `finish()`, `close()`."""

    def __init__(self, config: ProbeConfig) -> None:
        self.config = config
        self._nodes: list[tuple[str, int]] = []  # (node_id, epoch)
        self._latencies: list[float] = []
        self._errors: Counter[str] = Counter()
        self._register_latencies: list[float] = []
        self._slow: list[tuple[float, float]] = []
        self._started = 0.0
        self._channel: grpc.aio.Channel | None = None
        self._stub: registry_grpc.RegistryServiceStub | None = None

    async def run(self) -> ProbeReport:
        try:
            await self.open()
            report = await self.measure()
            await self.finish()
            report.errors = dict(self._errors)
            return report
        finally:
            await self.close()

    async def open(self) -> None:
        """Open the channel and register the probe nodes."""
        channel = grpc.aio.insecure_channel(self.config.address)
        token = self.config.service_token
        self._channel = BearerChannel(channel, token) if token else channel
        self._stub = registry_grpc.RegistryServiceStub(self._channel)
        await self._register_all(self._stub)

    async def measure(self) -> ProbeReport:
        """Heartbeat calls at the configured rate for the configured time."""
        assert self._stub is not None, "open() first"
        return await self._beat_all(self._stub)

    async def finish(self) -> None:
        """Deregister the probe nodes (failures are counted in the report's errors)."""
        if self._stub is not None:
            await self._deregister_all(self._stub)
            self._nodes = []

    @property
    def registered(self) -> int:
        """Probe nodes registered (and not yet deregistered)."""
        return len(self._nodes)

    @property
    def errors(self) -> dict[str, int]:
        return dict(self._errors)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(None)
        self._channel = self._stub = None

    async def _register_all(self, stub: registry_grpc.RegistryServiceStub) -> None:
        descriptor = probe_node.descriptor()
        for _ in range(self.config.nodes):
            request = registry_pb.RegisterNodeRequest(descriptor=descriptor, gateway_id=GATEWAY_ID)
            started = time.perf_counter()
            try:
                reply = await stub.RegisterNode(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                self._errors[f"register:{error.code().name}"] += 1
                continue
            self._register_latencies.append(time.perf_counter() - started)
            self._nodes.append((reply.node_id, reply.epoch))
        log.info("heartbeat probe registered %d nodes", len(self._nodes))

    async def _deregister_all(self, stub: registry_grpc.RegistryServiceStub) -> None:
        """Leave no probe node behind for the registry's sweep (failures only counted)."""
        for node_id, epoch in self._nodes:
            request = registry_pb.DeregisterNodeRequest(
                node_id=node_id, epoch=epoch, reason="bench probe done"
            )
            try:
                await stub.DeregisterNode(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                self._errors[f"deregister:{error.code().name}"] += 1

    async def _beat_all(self, stub: registry_grpc.RegistryServiceStub) -> ProbeReport:
        cfg = self.config
        planned = round(cfg.rate * cfg.duration_s) if self._nodes else 0
        capabilities = probe_node.capability_by_type()
        tasks: set[asyncio.Task[None]] = set()
        skipped = 0
        started = self._started = time.perf_counter()
        for k in range(planned):
            delay = started + k / cfg.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= MAX_CONCURRENT:
                skipped += 1
                continue
            node_id, epoch = self._nodes[k % len(self._nodes)]
            request = registry_pb.HeartbeatRequest(
                node_id=node_id,
                epoch=epoch,
                resource_usage=probe_node.usage(k),
                capability_by_type=capabilities,
            )
            task = asyncio.create_task(self._beat(stub, request))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=CALL_TIMEOUT_S + 1.0)
        elapsed = time.perf_counter() - started
        return ProbeReport(
            registered=len(self._nodes),
            planned=planned,
            completed=len(self._latencies),
            skipped=skipped,
            errors=dict(self._errors),
            achieved_rate=len(self._latencies) / elapsed if elapsed > 0 else 0.0,
            register=summarize(self._register_latencies),
            heartbeat=summarize(self._latencies),
            slow_calls=sorted(self._slow),
        )

    async def _beat(
        self, stub: registry_grpc.RegistryServiceStub, request: registry_pb.HeartbeatRequest
    ) -> None:
        started = time.perf_counter()
        try:
            await stub.Heartbeat(request, timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            self._errors[f"heartbeat:{error.code().name}"] += 1
            return
        latency = time.perf_counter() - started
        self._latencies.append(latency)
        if latency > SLOW_CALL_S and len(self._slow) < MAX_SLOW_CALLS:
            self._slow.append((started - self._started, latency * 1000))
