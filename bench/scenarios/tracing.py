"""Scenario "tracing": what tracing costs a job.

The same fleet at the same job rate runs against a fresh stack in alternating rounds,
tracing off (no OTEL_* exporter: the services install no SDK) and on (every service
exporting OTLP to a receiver in this process, which decodes and keeps every span).
Rounds alternate (off, on, off, on ...) so the host's drift hits both modes alike.
Target (issue 6): p50 job latency with tracing on within 20 % of off.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from bench.catalog import RunContext, scenario
from bench.options import BenchOptions
from bench.proc_stats import ProcSample
from bench.results import ScenarioResult, ms
from bench.stack_runner import running_stack, stack_config
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, traceparent, wire_trace_id
from tools.fleet import metrics
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.report import FleetReport
from tools.otlp_receiver import OtlpReceiver

log = logging.getLogger(__name__)

# off: no exporter; on: every job traced; sampled: 10 % of jobs (the prod overlay's rate).
MODES = ("off", "on", "sampled")
SAMPLED_RATIO = "0.1"
# Spans the services start per job themselves (gRPC and Redis spans come on top, on).
SPANS_PER_JOB = 12
# A moderate load: latency shows what tracing adds to each job, not the queueing of a
# saturated 2-core host (the load generator and the receiver share it).
LOAD_NODES, LOAD_CLIENTS, LOAD_RATE = 30, 15, 30.0
OVERHEAD_TARGET = 0.20
MEASURED = (metrics.UTTERANCE_TO_ASSIGN, metrics.RESULT_TO_ANSWER, metrics.END_TO_END)


def rounds_of(opts: BenchOptions) -> int:
    return 1 if opts.quick else 2


def fleet_config(opts: BenchOptions, urls: tuple[str, ...], run_id: str) -> FleetConfig:
    return FleetConfig(
        urls=urls,
        nodes=min(opts.nodes, LOAD_NODES),
        clients=min(opts.clients, LOAD_CLIENTS),
        pairs=(("zh", "en"), ("en", "zh")),
        processing_ms=opts.processing_ms,
        utterances=opts.utterances,
        job_rate=min(opts.rate, LOAD_RATE),
        heartbeat_interval_s=opts.heartbeat_s,
        node_ramp_s=opts.node_ramp_s,
        client_ramp_s=min(opts.clients, LOAD_CLIENTS) / min(opts.rate, LOAD_RATE),
        answer_timeout_s=opts.answer_timeout_s,
        run_id=run_id,
    )


async def one_round(
    opts: BenchOptions, ctx: RunContext, mode: str, number: int, receiver: OtlpReceiver
) -> dict[str, Any]:
    config = stack_config(opts.gateways, opts.heartbeat_s, ctx.run_dir / f"{mode}-{number}")
    env = {**config.env, "LINGUA_METRICS_PORT": "0"}
    if mode != "off":
        env.update(receiver.env())
        env["OTEL_BSP_SCHEDULE_DELAY"] = "1000"  # the SDK's batching, near its default
    if mode == "sampled":
        env["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        env["OTEL_TRACES_SAMPLER_ARG"] = SAMPLED_RATIO
    config = replace(config, env=env)
    receiver.clear()
    async with running_stack(config) as stack:
        pids = {s.name: s.process.pid for s in stack.services if s.process is not None}
        async with Fleet(fleet_config(opts, tuple(stack.gateway_urls), f"{mode}{number}")) as fleet:
            before = ProcSample.take(pids)
            report: FleetReport = await fleet.run_clients()
            after = ProcSample.take(pids)
    cpu = {
        name: (after.cpu[name] or 0.0) - (before.cpu[name] or 0.0)
        for name in pids
        if after.cpu.get(name) is not None and before.cpu.get(name) is not None
    }
    log.info("tracing %s round %d: %d answered", mode, number, report.answered)
    return {
        "mode": mode,
        "round": number,
        "ok": report.ok,
        "sent": report.sent,
        "answered": report.answered,
        "latency": {name: report.latency[name].as_dict() for name in MEASURED},
        "service_cpu_s": cpu,
        "spans_received": receiver.received,
    }


def untraced_cost_us(jobs: int = 5_000) -> float:
    """What one job's span bookkeeping costs with no SDK installed (this process has
    none): the spans and attributes the services start per job, the traceparent kept in
    the record and the wire trace id, in microseconds per job."""
    tracer = get_tracer("bench.untraced")
    attributes: dict[str, str | int] = {
        names.JOB_ID: "j-0",
        names.NODE_ID: "n-0",
        names.JOB_ATTEMPT: 1,
    }
    started = time.perf_counter()
    for _ in range(jobs):
        for _ in range(SPANS_PER_JOB):
            with tracer.start_as_current_span(names.DISPATCHER_PLACE, attributes=attributes):
                pass
        traceparent()
        wire_trace_id()
    return (time.perf_counter() - started) * 1e6 / jobs


def mean_of(rounds: list[dict[str, Any]], mode: str, metric: str, field: str) -> float:
    values = [r["latency"][metric][field] for r in rounds if r["mode"] == mode]
    return sum(values) / len(values) if values else 0.0


def cpu_per_job_ms(rounds: list[dict[str, Any]], mode: str) -> float:
    mine = [r for r in rounds if r["mode"] == mode]
    jobs = sum(r["answered"] for r in mine)
    cpu = sum(sum(r["service_cpu_s"].values()) for r in mine)
    return cpu * 1000 / jobs if jobs else 0.0


@scenario("tracing", "job latency, tracing exporting OTLP to an in-process receiver vs off")
async def run_tracing(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    receiver = OtlpReceiver(keep=False).start()
    rounds: list[dict[str, Any]] = []
    try:
        for number in range(rounds_of(opts)):
            for mode in MODES:
                rounds.append(await one_round(opts, ctx, mode, number, receiver))
    finally:
        receiver.stop()
    result = ScenarioResult(ok=all(r["ok"] for r in rounds))
    result.add_section(f"{rounds_of(opts)} round(s) per mode, alternating; means of round p50s")
    for metric in MEASURED:
        off, on, sampled = (mean_of(rounds, mode, metric, "p50_ms") for mode in MODES)
        overhead = (on - off) / off if off else 0.0
        sampled_overhead = (sampled - off) / off if off else 0.0
        target = f"<= +{OVERHEAD_TARGET:.0%}" if metric == metrics.END_TO_END else ""
        met = overhead <= OVERHEAD_TARGET if target else None
        result.add(
            f"{metric} p50 off / on / 10% (overhead on, 10%)",
            f"{ms(off)} / {ms(on)} / {ms(sampled)} ({overhead:+.1%}, {sampled_overhead:+.1%})",
            target,
            met,
        )
        p99s = " / ".join(ms(mean_of(rounds, mode, metric, "p99_ms")) for mode in MODES)
        result.add(f"{metric} p99 off / on / 10%", p99s)
    result.add(
        "service CPU per job off / on / 10%",
        " / ".join(f"{cpu_per_job_ms(rounds, mode):.2f}" for mode in MODES) + " ms",
    )
    untraced = untraced_cost_us()
    off_cpu_us = cpu_per_job_ms(rounds, "off") * 1000
    result.add(
        f"untraced span bookkeeping per job ({SPANS_PER_JOB} no-op spans)",
        f"{untraced:.1f} us ({untraced / max(off_cpu_us, 1):.2%} of service CPU per job, off)",
    )
    result.data["untraced_us_per_job"] = untraced
    for mode in MODES[1:]:
        spans = sum(r["spans_received"] for r in rounds if r["mode"] == mode)
        jobs = sum(r["answered"] for r in rounds if r["mode"] == mode)
        result.add(f"spans received ({mode})", f"{spans} ({spans / max(jobs, 1):.1f} per job)")
    if not all(r["ok"] for r in rounds):
        result.notes.append("a round lost or misordered answers: see rounds in the JSON")
    result.data.update({"rounds": rounds, "run_dir": str(ctx.run_dir)})
    return result
