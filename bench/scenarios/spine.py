"""Scenario "spine": the whole suite, two gateway replicas, a fleet across both.

Phases, all on one stack:
1. a fleet of nodes registers (spread round-robin over the gateways, as are clients,
   so many jobs cross replicas) and client sessions send at a fixed total rate;
2. meanwhile a probe calls RegistryService.Heartbeat directly at a fixed rate;
3. then a fresh fleet of fast nodes and closed-loop sessions measure saturation.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bench.catalog import RunContext, scenario
from bench.heartbeat_probe import HeartbeatProbe, ProbeConfig, ProbeReport
from bench.options import BenchOptions
from bench.results import ScenarioResult
from bench.saturation import SaturationConfig, SaturationReport, run_saturation
from bench.scenarios.spine_rows import build_result
from bench.stack_runner import log_digest, running_stack, stack_config
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.node_caps import Pair
from tools.fleet.report import FleetReport
from tools.launcher.stack import Stack

log = logging.getLogger(__name__)

PAIRS: tuple[Pair, ...] = (("zh", "en"), ("en", "zh"))


def load_config(opts: BenchOptions, urls: tuple[str, ...]) -> FleetConfig:
    return FleetConfig(
        urls=urls,
        nodes=opts.nodes,
        clients=opts.clients,
        pairs=PAIRS,
        processing_ms=opts.processing_ms,
        utterances=opts.utterances,
        job_rate=opts.rate,
        heartbeat_interval_s=opts.heartbeat_s,
        node_ramp_s=opts.node_ramp_s,
        # Clients start spread over one send interval, so arrivals are even, not bursts.
        client_ramp_s=opts.clients / opts.rate,
        register_timeout_s=max(10.0, opts.node_ramp_s + 10.0),
        answer_timeout_s=opts.answer_timeout_s,
        run_id="spine",
    )


def saturation_config(opts: BenchOptions, urls: tuple[str, ...]) -> SaturationConfig:
    return SaturationConfig(
        urls=urls,
        nodes=opts.nodes,
        clients=opts.clients,
        pairs=PAIRS,
        duration_s=opts.saturation_s,
        window=opts.saturation_window,
        processing_ms=opts.saturation_processing_ms,
        max_in_flight=opts.saturation_max_in_flight,
        heartbeat_interval_s=opts.heartbeat_s,
        node_ramp_s=opts.node_ramp_s,
        drain_timeout_s=opts.answer_timeout_s,
    )


async def _probe_later(probe: HeartbeatProbe, delay_s: float) -> ProbeReport:
    await asyncio.sleep(delay_s)
    return await probe.run()


async def load_phase(opts: BenchOptions, stack: Stack) -> tuple[FleetReport, ProbeReport]:
    assert stack.registry is not None
    urls = tuple(stack.gateway_urls)
    probe = HeartbeatProbe(
        ProbeConfig(
            address=stack.registry.grpc_address,
            service_token=stack.credentials.service_token,
            nodes=opts.probe_nodes,
            rate=opts.probe_rate,
            duration_s=opts.probe_s,
        )
    )
    async with Fleet(load_config(opts, urls)) as fleet:
        log.info("%d nodes registered; clients start", opts.nodes)
        async with asyncio.TaskGroup() as group:
            clients = group.create_task(fleet.run_clients())
            probing = group.create_task(_probe_later(probe, opts.probe_delay_s))
    return clients.result(), probing.result()


@scenario("spine", "2 gateways, fleet at a fixed job rate, heartbeat probe, saturation")
async def run_spine(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    config = stack_config(opts.gateways, opts.heartbeat_s, ctx.run_dir)
    saturation: SaturationReport | None = None
    exit_codes: dict[str, int | None] = {}
    async with running_stack(config, exit_codes) as stack:
        load, probe = await load_phase(opts, stack)
        if opts.saturation_s > 0:
            await asyncio.sleep(opts.settle_s)
            urls = tuple(stack.gateway_urls)
            saturation = await run_saturation(saturation_config(opts, urls))
    logs = log_digest(stack)  # after the stop, so shutdown trouble shows too
    result = build_result(opts, load, probe, saturation, logs)
    data: dict[str, Any] = {
        "service_exit_codes": exit_codes,
        "service_logs": logs,
        "run_dir": str(ctx.run_dir),
    }
    result.data.update(data)
    return result
