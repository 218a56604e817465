"""Scenario "jobs": the job lifecycle with 1,000 nodes, and Celery measured beside it.

Phases, all on one stack (two gateways, `--dispatchers` dispatcher replicas):
0. the Celery reference, first, while nothing else of the run is busy: a real worker
   (`--celery-pool`, `--celery-concurrency`) and a client process, broker and result
   backend both on the stack's private redis-server, db 1; unloaded round trips, then
   closed-loop saturation with the nodes' processing delay and with none;
1. 1,000 fake nodes register over WebSocket (round-robin over the gateways, a bounded
   number outstanding), each serving one of four pair groups (8 directed pairs);
2. sustained load: sessions send at a fixed total rate; utterance -> job_assign,
   job_result -> translation_result, end to end, and exactly-once, right, in order;
3. saturation: the same nodes with a small processing delay, closed-loop sessions for
   a bounded time: correct jobs/s, latencies, errors by code, CPU per process.
Everything is bounded in count and time; the stack, the fleet and the Celery processes
are stopped on any exit (error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from bench.catalog import RunContext, scenario
from bench.celery_reference import CeleryConfig, CeleryError, run_celery_reference
from bench.options import BenchOptions
from bench.proc_stats import ProcSample
from bench.results import ScenarioResult
from bench.saturation import SaturationConfig, saturate
from bench.scenarios.jobs_config import PAIRS, JobsConfig, jobs_config
from bench.scenarios.jobs_fleet import (
    RampReport,
    build_fleet,
    node_totals,
    register_nodes,
    set_processing,
    totals_since,
    use_recorder,
)
from bench.scenarios.jobs_rows import JobsRun, PhaseCpu, build_result
from bench.service_histograms import read_counter
from bench.stack_runner import log_digest, running_stack, stack_config
from tools.fleet.fleet import Fleet
from tools.fleet.metrics import LatencyRecorder
from tools.launcher.stack import Stack, StackConfig

log = logging.getLogger(__name__)


def jobs_stack_config(cfg: JobsConfig, run_dir: Path) -> StackConfig:
    base = stack_config(cfg.gateways, cfg.heartbeat_s, run_dir)
    env = {
        **base.env,
        # Every node and session dials from 127.0.0.1.
        "LINGUA_MAX_CONNECTIONS_PER_IP": str(2 * (cfg.nodes + cfg.clients) + 100),
    }
    return replace(base, env=env, dispatchers=cfg.dispatchers)


def celery_config(cfg: JobsConfig, stack: Stack, run_dir: Path) -> CeleryConfig:
    delays = (cfg.saturation_processing_ms, 0.0) if cfg.saturation_processing_ms > 0 else (0.0,)
    return CeleryConfig(
        redis_url=stack.redis_url,
        db=cfg.celery_db,
        pool=cfg.celery_pool,
        concurrency=cfg.celery_concurrency,
        round_trips=cfg.celery_round_trips,
        seconds=cfg.celery_seconds,
        window=cfg.saturation_outstanding,  # as many outstanding as our saturation keeps
        delays_ms=delays,
        log_path=run_dir / "celery-worker.log",
    )


def saturation_config(cfg: JobsConfig, urls: tuple[str, ...]) -> SaturationConfig:
    return SaturationConfig(
        urls=urls,
        nodes=cfg.nodes,
        clients=cfg.saturation_clients,
        pairs=PAIRS,
        duration_s=cfg.saturation_s,
        window=cfg.saturation_window,
        processing_ms=cfg.saturation_processing_ms,
        max_in_flight=cfg.node_max_in_flight,
        heartbeat_interval_s=cfg.heartbeat_s,
        node_ramp_s=0.0,
        drain_timeout_s=cfg.answer_timeout_s,
    )


def process_ids(stack: Stack) -> dict[str, int]:
    pids = {"bench": os.getpid()}
    redis_process = getattr(stack.redis, "process", None)
    if redis_process is not None:
        pids["redis"] = redis_process.pid
    for service in stack.services:
        if service.process is not None:
            pids[service.name] = service.process.pid
    return pids


ROUND_TRIPS = "lingua_redis_round_trips"
LINK_FRAMES = "lingua_link_frames"
LINK_MESSAGES = "lingua_link_messages"


async def counters(stack: Stack, name: str) -> dict[str, float]:
    """A counter of each dispatcher and gateway process, as it stands now."""
    found = {}
    for service in [*stack.dispatchers, *stack.gateways]:
        port = service.ports.get("metrics")
        if port is not None:
            found[service.name] = await read_counter(port, name)
    return found


async def round_trips(stack: Stack) -> dict[str, float]:
    """Redis round trips each dispatcher and gateway process made so far."""
    return await counters(stack, ROUND_TRIPS)


@contextlib.contextmanager
def phase(run: JobsRun, name: str, pids: dict[str, int]) -> Iterator[None]:
    """The load average at the phase's start and the CPU each process used in it."""
    run.load[name] = list(os.getloadavg())
    before = ProcSample.take(pids)
    started = time.perf_counter()
    yield
    after = ProcSample.take(pids)
    run.cpu[name] = PhaseCpu(
        wall_s=time.perf_counter() - started,
        cpu_s={k: v for k, v in after.cpu_since(before).items() if v is not None},
        machine_busy_s=after.machine_busy_since(before),
    )


async def celery_phase(cfg: JobsConfig, stack: Stack, run: JobsRun, run_dir: Path) -> None:
    if cfg.celery_seconds <= 0:
        run.celery_error = "skipped (--celery-seconds 0)"
        return
    log.info("Celery reference: %s pool x%d", cfg.celery_pool, cfg.celery_concurrency)
    try:
        with phase(run, "celery", process_ids(stack)):
            run.celery = await run_celery_reference(celery_config(cfg, stack, run_dir))
    except (CeleryError, OSError) as exc:
        run.celery_error = str(exc)
        log.warning("Celery reference failed: %s", exc)


async def fleet_phases(cfg: JobsConfig, stack: Stack, fleet: Fleet, run: JobsRun) -> None:
    pids = process_ids(stack)
    log.info("registering %d nodes, %d outstanding", cfg.nodes, cfg.register_concurrency)
    with phase(run, "register", pids):
        run.ramp = await register_nodes(fleet, cfg.register_concurrency, cfg.register_timeout_s)
    if run.ramp.registered < cfg.nodes:
        raise RuntimeError(f"only {run.ramp.registered}/{cfg.nodes} nodes registered")
    await asyncio.sleep(cfg.settle_s)

    log.info("sustained load: %d sessions at %g jobs/s", cfg.clients, cfg.rate)
    before = node_totals(fleet)
    with phase(run, "sustained", pids):
        run.sustained = await fleet.run_clients()
    run.sustained_nodes = totals_since(node_totals(fleet), before)
    await asyncio.sleep(cfg.settle_s)

    if cfg.saturation_s <= 0:
        return
    use_recorder(fleet, LatencyRecorder())
    set_processing(fleet, cfg.saturation_processing_ms)
    log.info("saturation: %d closed-loop sessions", cfg.saturation_clients)
    before = node_totals(fleet)
    trips_before = await round_trips(stack)
    with phase(run, "saturation", pids):
        run.saturation = await saturate(fleet, saturation_config(cfg, tuple(stack.gateway_urls)))
    run.saturation_nodes = totals_since(node_totals(fleet), before)
    trips_after = await round_trips(stack)
    run.round_trips = {k: trips_after[k] - trips_before.get(k, 0.0) for k in trips_after}


@scenario("jobs", "1,000 nodes: job latency, jobs/s at saturation, Celery reference")
async def run_jobs(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    cfg = jobs_config(opts)
    run = JobsRun(cfg, ramp=RampReport(nodes=cfg.nodes, concurrency=cfg.register_concurrency))
    exit_codes: dict[str, int | None] = {}
    async with running_stack(jobs_stack_config(cfg, ctx.run_dir), exit_codes) as stack:
        await celery_phase(cfg, stack, run, ctx.run_dir)
        fleet = build_fleet(cfg, tuple(stack.gateway_urls))
        try:
            await fleet_phases(cfg, stack, fleet, run)
        finally:
            fleet.abort()
            await fleet.stop()
    logs = log_digest(stack)  # after the stop, so shutdown trouble shows too
    result = build_result(run, logs)
    result.data.update(
        service_exit_codes=exit_codes,
        service_logs=logs,
        run_dir=str(ctx.run_dir),
    )
    return result
