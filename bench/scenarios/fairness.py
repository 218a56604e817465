"""Scenario "fairness": heavy peers within their limits must not slow a good client.

One gateway, a node, and a good client that sends one utterance at a time and times
each from send to its translation_result. Rounds alternate, in the same run: the good
client alone, then the same client while four other sessions (a process of their own)
send ~1 MiB frames at the message rate the gateway allows (`client_heartbeat`s padded
with a field the gateway ignores: all parsing, no downstream work). The gateway runs
with its default limits. Target: the good client's p99 with the heavy peers within 2x
of its p99 alone, and no good answer lost.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.catalog import RunContext, scenario
from bench.gateway_proc import cpu_seconds
from bench.good_client import GoodReport, utterance_round_trips
from bench.heavy_peers import HeavyConfig, HeavyProcess, HeavyReport
from bench.options import BenchOptions
from bench.results import ScenarioResult, p50_p99
from bench.stack_runner import error_counts, log_digest, running_stack, stack_config
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.metrics import summarize
from tools.launcher.stack import Stack

log = logging.getLogger(__name__)

HEAVY_SOCKETS = 4
HEAVY_FRAME_BYTES = 1_000_000  # under the 1 MiB frame limit
HEAVY_RATE = 100.0  # frames/s per socket: LINGUA_SESSION_MSGS_PER_S's default
P99_FACTOR = 2.0


@dataclass(frozen=True)
class FairnessConfig:
    rounds: int
    phase_s: float
    interval_s: float
    answer_timeout_s: float

    @classmethod
    def from_options(cls, opts: BenchOptions) -> FairnessConfig:
        return cls(
            rounds=1 if opts.quick else 3,
            phase_s=3.0 if opts.quick else 10.0,
            interval_s=0.05,
            answer_timeout_s=opts.answer_timeout_s,
        )


@dataclass
class Phase:
    good: GoodReport
    gateway_cores: float


@dataclass
class FairnessRun:
    alone: list[Phase] = field(default_factory=list)
    heavy: list[Phase] = field(default_factory=list)
    heavy_reports: list[HeavyReport] = field(default_factory=list)

    def seconds(self, phases: list[Phase]) -> list[float]:
        return [s for p in phases for s in p.good.seconds]


@scenario("fairness", "a good client's utterance p50/p99 alone vs with 4 peers sending 1 MiB")
async def run_fairness(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    cfg = FairnessConfig.from_options(opts)
    exit_codes: dict[str, int | None] = {}
    run = FairnessRun()
    async with running_stack(stack_config(1, opts.heartbeat_s, ctx.run_dir), exit_codes) as stack:
        url = stack.gateway_urls[0]
        fleet_config = FleetConfig(
            urls=(url,),
            nodes=2,
            clients=0,
            processing_ms=5.0,
            heartbeat_interval_s=opts.heartbeat_s,
        )
        async with Fleet(fleet_config):
            await _measure(stack, cfg, run)
    logs = log_digest(stack)
    result = build_result(cfg, run, logs)
    result.data.update(
        {
            "fairness": asdict(cfg),
            "service_exit_codes": exit_codes,
            "service_logs": logs,
            "run_dir": str(ctx.run_dir),
        }
    )
    return result


async def _measure(stack: Stack, cfg: FairnessConfig, run: FairnessRun) -> None:
    gateway = stack.gateways[0]
    assert gateway.process is not None
    pid = gateway.process.pid
    session_url = stack.gateway_urls[0] + "/ws/session"
    # Warm up: the node is indexed everywhere, connections and caches are made.
    await utterance_round_trips(session_url, 1.0, cfg.interval_s, cfg.answer_timeout_s, "warm")
    heavy = HeavyProcess(HeavyConfig(session_url, HEAVY_SOCKETS, HEAVY_FRAME_BYTES, HEAVY_RATE))
    for round_no in range(cfg.rounds):
        log.info("round %d: alone", round_no)
        run.alone.append(await _phase(pid, session_url, cfg, f"alone{round_no}"))
        log.info("round %d: with %d heavy peers", round_no, HEAVY_SOCKETS)
        await heavy.open()
        try:
            await heavy.go()
            run.heavy.append(await _phase(pid, session_url, cfg, f"heavy{round_no}"))
            run.heavy_reports.append(await heavy.stop())
        finally:
            await heavy.close()


async def _phase(pid: int, url: str, cfg: FairnessConfig, tag: str) -> Phase:
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    good = await utterance_round_trips(url, cfg.phase_s, cfg.interval_s, cfg.answer_timeout_s, tag)
    cores = (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
    return Phase(good, cores)


def build_result(cfg: FairnessConfig, run: FairnessRun, logs: dict[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    alone, heavy = summarize(run.seconds(run.alone)), summarize(run.seconds(run.heavy))
    result.add_section(
        f"fairness: 1 gateway, {cfg.rounds} rounds of {cfg.phase_s:.0f} s alone / with "
        f"{HEAVY_SOCKETS} peers sending {HEAVY_FRAME_BYTES / 2**20:.2f} MiB frames at "
        f"{HEAVY_RATE:.0f}/s"
    )
    result.add("good utterance round trip p50 / p99, alone", p50_p99(alone))
    ratio = heavy.p99_ms / alone.p99_ms if alone.count and heavy.count else float("inf")
    result.add(
        "good utterance round trip p50 / p99, with heavy peers",
        p50_p99(heavy),
        f"p99 <= {P99_FACTOR:.0f}x alone",
        ratio <= P99_FACTOR,
    )
    result.add("p99 with / alone", f"{ratio:.2f}x")
    phases = run.alone + run.heavy
    sent = sum(p.good.sent for p in phases)
    answered = sum(p.good.answered for p in phases)
    lost: dict[str, int] = {}
    for phase in phases:
        for why, count in phase.good.lost.items():
            lost[why] = lost.get(why, 0) + count
    result.add(
        "good answers lost",
        f"{sent - answered} of {sent}" + (f" {lost}" if lost else ""),
        "0",
        sent == answered,
    )
    result.add(
        "gateway CPU alone / with heavy peers",
        f"{_mean(p.gateway_cores for p in run.alone):.2f} / "
        f"{_mean(p.gateway_cores for p in run.heavy):.2f} cores",
    )
    seconds = sum(r.seconds for r in run.heavy_reports)
    handled = sum(r.replies for r in run.heavy_reports)
    result.add(
        "heavy frames handled by the gateway",
        f"{handled} ({handled * HEAVY_FRAME_BYTES / 2**20 / max(seconds, 1e-9):.2f} MiB/s "
        f"over {HEAVY_SOCKETS} sockets; offered {HEAVY_RATE * HEAVY_SOCKETS:.0f} frames/s)",
    )
    errors: dict[str, int] = {}
    closed: dict[str, int] = {}
    for report in run.heavy_reports:
        for code, count in report.errors.items():
            errors[code] = errors.get(code, 0) + count
        for code, count in report.closed.items():
            closed[code] = closed.get(code, 0) + count
    result.add("heavy peers: errors / closed", f"{errors or 'none'} / {closed or 'none'}")
    log_errors = error_counts(logs)
    result.ok = sent > 0 and heavy.count > 0 and not log_errors
    if log_errors:
        result.notes.append(f"ERROR lines in service logs: {log_errors}")
    result.notes.append(
        "the heavy peers run in a process of their own; the harness runs the good client "
        "and the node; everything shares this machine"
    )
    result.data["fairness_run"] = {
        "alone": [{"good": p.good.as_dict(), "gateway_cores": p.gateway_cores} for p in run.alone],
        "heavy": [{"good": p.good.as_dict(), "gateway_cores": p.gateway_cores} for p in run.heavy],
        "heavy_peers": [r.as_dict() for r in run.heavy_reports],
        "alone_latency": alone.as_dict(),
        "heavy_latency": heavy.as_dict(),
        "p99_ratio": ratio,
    }
    return result


def _mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0
