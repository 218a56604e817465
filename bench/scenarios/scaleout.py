"""Scenario "scaleout": the jobs scenario's saturation with 1 dispatcher replica, then
with 2, in one run: jobs/s and the dispatchers' CPU per job side by side.

Each round starts its own stack (same gateways, same fleet of nodes and sessions) and
measures only saturation. On this 2-core machine the load generator, Redis and the
gateways share the cores with the dispatchers, so a second replica cannot add CPU the
machine does not have: what it shows is that the job path does not spend more per job
(no coordination cost) and that the replicas share the work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.catalog import RunContext, scenario
from bench.options import BenchOptions
from bench.results import ScenarioResult, p50_p99
from bench.saturation import saturate
from bench.scenarios.jobs import (
    LINK_FRAMES,
    LINK_MESSAGES,
    counters,
    jobs_stack_config,
    phase,
    process_ids,
    round_trips,
    saturation_config,
)
from bench.scenarios.jobs_config import JobsConfig, jobs_config
from bench.scenarios.jobs_fleet import (
    RampReport,
    build_fleet,
    register_nodes,
    set_processing,
    use_recorder,
)
from bench.scenarios.jobs_rows import JobsRun, exactly_once
from bench.stack_runner import running_stack
from tools.fleet.metrics import UTTERANCE_TO_ASSIGN, LatencyRecorder

log = logging.getLogger(__name__)

REPLICAS = (1, 2)


@dataclass
class Round:
    dispatchers: int
    jobs_per_s: float = 0.0
    correct: int = 0
    exactly_once: bool = False
    dispatcher_cpu_ms_per_job: float = 0.0
    per_replica_cpu_s: dict[str, float] | None = None
    # Every process's CPU ms per job (gateways, redis, the load generator too).
    cpu_ms_per_job: str = ""
    round_trips_per_job: float = 0.0
    # The dispatchers' link frames (both ways) per job, and messages per frame.
    frames_per_job: float = 0.0
    messages_per_frame: float = 0.0
    assign_latency: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def one_round(cfg: JobsConfig, run_dir: Path, dispatchers: int) -> Round:
    cfg = replace(cfg, dispatchers=dispatchers)
    run = JobsRun(cfg, ramp=RampReport(nodes=cfg.nodes, concurrency=cfg.register_concurrency))
    result = Round(dispatchers)
    async with running_stack(jobs_stack_config(cfg, run_dir / f"x{dispatchers}")) as stack:
        fleet = build_fleet(cfg, tuple(stack.gateway_urls))
        try:
            ramp = await register_nodes(fleet, cfg.register_concurrency, cfg.register_timeout_s)
            if ramp.registered < cfg.nodes:
                raise RuntimeError(f"only {ramp.registered}/{cfg.nodes} nodes registered")
            await asyncio.sleep(cfg.settle_s)
            use_recorder(fleet, LatencyRecorder())
            set_processing(fleet, cfg.saturation_processing_ms)
            before = await round_trips(stack)
            frames_before = await counters(stack, LINK_FRAMES)
            messages_before = await counters(stack, LINK_MESSAGES)
            with phase(run, "saturation", process_ids(stack)):
                report = await saturate(fleet, saturation_config(cfg, tuple(stack.gateway_urls)))
            after = await round_trips(stack)
            frames = _dispatchers_since(await counters(stack, LINK_FRAMES), frames_before)
            messages = _dispatchers_since(await counters(stack, LINK_MESSAGES), messages_before)
        finally:
            fleet.abort()
            await fleet.stop()
    cpu = run.cpu["saturation"]
    mine = {k: v for k, v in cpu.cpu_s.items() if k.startswith("dispatcher")}
    result.correct = report.fleet.correct
    result.jobs_per_s = report.jobs_per_s
    result.exactly_once = exactly_once(report.fleet)
    result.per_replica_cpu_s = mine
    if report.fleet.correct:
        result.dispatcher_cpu_ms_per_job = sum(mine.values()) * 1000 / report.fleet.correct
        trips = sum(after[k] - before.get(k, 0.0) for k in after if k.startswith("dispatcher"))
        result.round_trips_per_job = trips / report.fleet.correct
        result.frames_per_job = frames / report.fleet.correct
        result.messages_per_frame = messages / frames if frames else 0.0
    result.assign_latency = p50_p99(report.latency[UTTERANCE_TO_ASSIGN])
    result.cpu_ms_per_job = cpu.text(per=report.fleet.correct) if report.fleet.correct else ""
    return result


def _dispatchers_since(now: dict[str, float], before: dict[str, float]) -> float:
    return sum(v - before.get(k, 0.0) for k, v in now.items() if k.startswith("dispatcher"))


@scenario("scaleout", "jobs/s and dispatcher CPU per job with 1 and with 2 dispatcher replicas")
async def run_scaleout(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    cfg = jobs_config(opts)
    rounds = [await one_round(cfg, ctx.run_dir, n) for n in REPLICAS]
    result = ScenarioResult()
    result.add_section(
        f"saturation: {cfg.saturation_clients} closed-loop sessions x "
        f"{cfg.saturation_window}, {cfg.nodes} nodes, {cfg.saturation_s:g} s per round"
    )
    for r in rounds:
        label = f"{r.dispatchers} dispatcher replica{'s' if r.dispatchers > 1 else ''}"
        split = ", ".join(f"{k} {v:.1f} s" for k, v in sorted((r.per_replica_cpu_s or {}).items()))
        result.add(f"{label}: correct jobs/s", f"{r.jobs_per_s:.1f}", "", r.exactly_once)
        result.add(
            f"{label}: dispatcher CPU ms per job", f"{r.dispatcher_cpu_ms_per_job:.2f}", split
        )
        result.add(f"{label}: Redis round trips per job", f"{r.round_trips_per_job:.2f}")
        result.add(
            f"{label}: link frames per job (messages per frame)",
            f"{r.frames_per_job:.2f} ({r.messages_per_frame:.1f})",
        )
        result.add(f"{label}: utterance -> job_assign p50 / p99", r.assign_latency)
        result.add(f"{label}: CPU ms per job, every process", r.cpu_ms_per_job)
    one, two = rounds[0], rounds[-1]
    if one.jobs_per_s and one.dispatcher_cpu_ms_per_job:
        result.add_section("2 replicas vs 1")
        result.add("jobs/s", f"x{two.jobs_per_s / one.jobs_per_s:.2f}")
        result.add(
            "dispatcher CPU per job",
            f"x{two.dispatcher_cpu_ms_per_job / one.dispatcher_cpu_ms_per_job:.2f}",
            "unchanged: no coordination cost per job",
        )
    result.ok = all(r.exactly_once for r in rounds)
    result.data.update(config=cfg.as_dict(), rounds=[r.as_dict() for r in rounds])
    result.notes.append(
        "Both rounds on the same 2 cores, load generator included: a second replica cannot "
        "add CPU here; the rows show what each replica spends per job and how they share it."
    )
    return result
