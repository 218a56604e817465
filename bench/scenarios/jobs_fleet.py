"""The jobs scenario's fleet: fake nodes in pair groups, registered with a bounded number
outstanding, then reused phase after phase (fresh latency recorder, new processing delay).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bench.scenarios.jobs_config import PAIR_GROUPS, PAIRS, JobsConfig
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.metrics import LatencyRecorder, LatencySummary, summarize
from tools.fleet.node import FakeNode, NodeStats

log = logging.getLogger(__name__)

COUNTERS = tuple(f.name for f in fields(NodeStats) if f.type in ("int", int))


def build_fleet(cfg: JobsConfig, urls: tuple[str, ...]) -> Fleet:
    config = FleetConfig(
        urls=urls,
        nodes=cfg.nodes,
        clients=cfg.clients,
        pairs=PAIRS,  # clients: client i speaks PAIRS[i % len(PAIRS)]
        processing_ms=cfg.processing_ms,
        max_in_flight=cfg.node_max_in_flight,
        utterances=cfg.utterances,
        job_rate=cfg.rate,
        heartbeat_interval_s=cfg.heartbeat_s,
        # Clients start spread over one send interval, so arrivals are even, not bursts.
        client_ramp_s=cfg.clients / cfg.rate,
        register_timeout_s=cfg.register_timeout_s,
        answer_timeout_s=cfg.answer_timeout_s,
        run_id="jobs",
    )
    fleet = Fleet(config)
    # Nodes serve one pair group each, round-robin, so every pair has its own pool.
    fleet.nodes = [
        FakeNode(
            replace(config.node_config(i), pairs=PAIR_GROUPS[i % len(PAIR_GROUPS)]),
            fleet.recorder,
        )
        for i in range(cfg.nodes)
    ]
    return fleet


@dataclass
class RampReport:
    nodes: int
    concurrency: int
    registered: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    latency: LatencySummary = field(default_factory=lambda: summarize([]))

    @property
    def per_s(self) -> float:
        return self.registered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "registered": self.registered,
            "failures": dict(self.failures),
            "elapsed_s": self.elapsed_s,
            "per_s": self.per_s,
            "latency": self.latency.as_dict(),
        }


async def register_nodes(fleet: Fleet, concurrency: int, timeout_s: float) -> RampReport:
    """Start every node, at most `concurrency` of them registering at once; a node that
    does not get its node_register_ack within `timeout_s` counts as a failure."""
    report = RampReport(nodes=len(fleet.nodes), concurrency=concurrency)
    room = asyncio.Semaphore(concurrency)
    samples: list[float] = []

    async def one(node: FakeNode) -> None:
        async with room:
            started = time.perf_counter()
            node.start()
            try:
                await node.wait_registered(timeout_s)
            except TimeoutError:
                report.failures["timeout"] += 1
                return
            samples.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(node) for node in fleet.nodes))
    report.elapsed_s = time.perf_counter() - started
    report.registered = len(samples)
    report.latency = summarize(samples)
    log.info("%d/%d nodes registered in %.1f s", report.registered, report.nodes, report.elapsed_s)
    return report


def use_recorder(fleet: Fleet, recorder: LatencyRecorder) -> None:
    """From now on every node and client of the fleet stamps into `recorder`."""
    fleet.recorder = recorder
    for node in fleet.nodes:
        node.recorder = recorder


def set_processing(fleet: Fleet, processing_ms: float) -> None:
    """Every node's delay per job from its next job on (each node reads it per job)."""
    for node in fleet.nodes:
        node.config = replace(node.config, processing_ms=processing_ms)


def node_totals(fleet: Fleet) -> dict[str, int]:
    return {name: sum(getattr(n.stats, name) for n in fleet.nodes) for name in COUNTERS}


def totals_since(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}
