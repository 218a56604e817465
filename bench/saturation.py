"""Throughput at saturation: closed-loop sessions against a fleet of fast nodes.

Every session keeps a few utterances awaiting answers and sends the next one the moment
an answer arrives, for a bounded time; then it drains (bounded). Completed jobs/s is
correct answers over the wall time from the start to the last answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from bench.closed_loop import ClosedLoopClient, ClosedLoopConfig
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.metrics import LatencySummary
from tools.fleet.node_caps import Pair
from tools.fleet.report import FleetReport, build_report

log = logging.getLogger(__name__)

# A ceiling on utterances per session, far above what a bounded run can send.
MAX_UTTERANCES = 1_000_000
FINISH_SLACK_S = 30.0  # connect, init and close on top of the drain timeout


@dataclass(frozen=True)
class SaturationConfig:
    urls: tuple[str, ...]
    nodes: int
    clients: int
    pairs: tuple[Pair, ...]
    duration_s: float
    window: int
    processing_ms: float
    max_in_flight: int
    heartbeat_interval_s: float
    node_ramp_s: float
    drain_timeout_s: float


@dataclass
class SaturationReport:
    fleet: FleetReport
    send_s: float
    wall_s: float

    @property
    def jobs_per_s(self) -> float:
        """Correct translations only: a fast error answer is no completed job."""
        return self.fleet.correct / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def latency(self) -> dict[str, LatencySummary]:
        return self.fleet.latency

    def as_dict(self) -> dict[str, Any]:
        data = self.fleet.as_dict()
        data.pop("client_reports", None)
        data.update(send_s=self.send_s, wall_s=self.wall_s, jobs_per_s=self.jobs_per_s)
        return data


def fleet_config(cfg: SaturationConfig) -> FleetConfig:
    return FleetConfig(
        urls=cfg.urls,
        nodes=cfg.nodes,
        clients=0,
        pairs=cfg.pairs,
        processing_ms=cfg.processing_ms,
        max_in_flight=cfg.max_in_flight,
        heartbeat_interval_s=cfg.heartbeat_interval_s,
        node_ramp_s=cfg.node_ramp_s,
        run_id="saturation",
    )


async def run_saturation(cfg: SaturationConfig) -> SaturationReport:
    async with Fleet(fleet_config(cfg)) as fleet:
        return await saturate(fleet, cfg)


async def saturate(fleet: Fleet, cfg: SaturationConfig) -> SaturationReport:
    """Closed-loop sessions against an already started fleet (`cfg.urls`, `cfg.pairs`,
    `cfg.clients`, `cfg.window`, `cfg.duration_s`, `cfg.drain_timeout_s` are used)."""
    clients = [
        ClosedLoopClient(
            ClosedLoopConfig(
                url=cfg.urls[(cfg.nodes + i) % len(cfg.urls)],
                name=f"saturation-c{i}",
                src_lang=cfg.pairs[i % len(cfg.pairs)][0],
                tgt_lang=cfg.pairs[i % len(cfg.pairs)][1],
                window=cfg.window,
                max_utterances=MAX_UTTERANCES,
                drain_timeout_s=cfg.drain_timeout_s,
            ),
            fleet.recorder,
        )
        for i in range(cfg.clients)
    ]
    started = time.perf_counter()
    runs = asyncio.gather(*(c.run() for c in clients))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(runs), cfg.duration_s)
        for client in clients:
            client.stop()
        send_s = time.perf_counter() - started
        reports = await asyncio.wait_for(runs, cfg.drain_timeout_s + FINISH_SLACK_S)
    except BaseException:
        runs.cancel()
        await asyncio.gather(runs, return_exceptions=True)
        raise
    last = [c.last_answer_at for c in clients if c.last_answer_at is not None]
    wall_s = (max(last) if last else time.perf_counter()) - started
    nodes = [(n.stats, n.node_id is not None) for n in fleet.nodes]
    report = build_report(reports, nodes, fleet.recorder.summaries(), wall_s)
    log.info("saturation: %d answers in %.1f s", report.answered, wall_s)
    return SaturationReport(fleet=report, send_s=send_s, wall_s=wall_s)
