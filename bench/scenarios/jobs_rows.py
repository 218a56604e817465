"""The jobs scenario's table rows, verdict and JSON data, from what its phases measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.results import ScenarioResult, ms, p50_p99
from bench.saturation import SaturationReport
from bench.scenarios.jobs_config import PAIRS, JobsConfig
from bench.scenarios.jobs_fleet import RampReport
from bench.stack_runner import error_counts
from tools.fleet import metrics
from tools.fleet.report import FleetReport

HOP_TARGET_MS = 5.0
JOBS_TARGET = 300.0  # completed jobs/s at saturation, 2 cores, everything on the machine
DESIGN_CELERY_RT = "DESIGN ref. p50 6.4 / p99 11 ms"
DESIGN_CELERY_RATE = "DESIGN ref. 288/s"
NODE_PROBLEMS = ("refused", "failed", "invalid", "server_errors", "protocol_violations")


@dataclass(frozen=True)
class PhaseCpu:
    """CPU seconds each process (and the whole machine) used during one phase."""

    wall_s: float
    cpu_s: dict[str, float]
    machine_busy_s: float | None

    def cores(self) -> dict[str, float]:
        if self.wall_s <= 0:
            return {}
        return {name: spent / self.wall_s for name, spent in self.cpu_s.items()}

    def as_dict(self) -> dict[str, Any]:
        machine = self.machine_busy_s / self.wall_s if self.machine_busy_s and self.wall_s else None
        return {
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "cores": self.cores(),
            "machine_busy_s": self.machine_busy_s,
            "machine_cores": machine,
        }

    def text(self, per: float | None = None) -> str:
        """Cores by process, busiest first; with `per` jobs, CPU ms per job instead."""
        values = {k: v * 1000 / per for k, v in self.cpu_s.items()} if per else self.cores()
        busiest = sorted(values.items(), key=lambda item: -item[1])
        text = ", ".join(f"{name} {value:.2f}" for name, value in busiest if value >= 0.005)
        if self.machine_busy_s is not None and self.wall_s > 0 and not per:
            text = f"machine {self.machine_busy_s / self.wall_s:.2f}: {text}"
        return text


@dataclass
class JobsRun:
    cfg: JobsConfig
    ramp: RampReport
    sustained: FleetReport | None = None
    sustained_nodes: dict[str, int] = field(default_factory=dict)
    saturation: SaturationReport | None = None
    saturation_nodes: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, PhaseCpu] = field(default_factory=dict)  # by phase
    celery: dict[str, Any] | None = None
    celery_error: str | None = None
    load: dict[str, list[float]] = field(default_factory=dict)  # 1/5/15-min, phase start
    # Redis round trips per process during saturation (its own lingua_redis_round_trips).
    round_trips: dict[str, float] = field(default_factory=dict)

    def celery_saturation(self, delay_ms: float) -> dict[str, Any] | None:
        for entry in (self.celery or {}).get("saturation", []):
            if entry.get("delay_ms") == delay_ms:
                return dict(entry)
        return None


def exactly_once(report: FleetReport) -> bool:
    """Every utterance answered once, with its own right translation, in order."""
    return (
        report.ok
        and report.sent > 0
        and report.answered == report.sent
        and report.correct == report.sent
        and report.duplicates == 0
        and report.unexpected == 0
        and report.missing_results == 0
        and not report.errors_by_code
        and report.connections_lost == 0
    )


def correctness_text(report: FleetReport) -> str:
    text = (
        f"{report.answered}/{report.sent} answered, {report.correct} correct, "
        f"{report.duplicates} dup, {report.out_of_order} out of order"
    )
    if report.errors_by_code:
        text += f", errors {report.errors_by_code}"
    if report.connections_lost or report.init_failures:
        text += f", sessions lost {report.connections_lost} / failed {report.init_failures}"
    return text


def _overhead(summary: metrics.LatencySummary, processing_ms: float) -> str:
    """End to end less the nodes' fixed delay: what the scheduler and the hops cost."""
    if summary.count == 0:
        return "no samples"
    return f"{ms(summary.p50_ms - processing_ms)} / {ms(summary.p99_ms - processing_ms)}"


def _celery_rt(run: JobsRun) -> str:
    if run.celery is None:
        return "not measured"
    lat = run.celery["round_trip"]["latency"]
    return f"Celery RT {ms(lat['p50_ms'])} / {ms(lat['p99_ms'])}"


def _register_rows(result: ScenarioResult, run: JobsRun) -> None:
    cfg, ramp = run.cfg, run.ramp
    result.add_section(
        f"jobs: {cfg.nodes} nodes over {cfg.gateways} gateways, {cfg.dispatchers} "
        f"dispatcher(s), {len(PAIRS)} directed pairs in 4 node groups"
    )
    result.add(
        "nodes registered (node WebSocket)",
        f"{ramp.registered}/{ramp.nodes} in {ramp.elapsed_s:.1f} s, {ramp.per_s:.0f}/s",
        f"all, {ramp.concurrency} outstanding",
        ramp.registered == ramp.nodes,
    )
    result.add(
        "register p50 / p99 (under the ramp)",
        p50_p99(ramp.latency),
        "baseline 50-200 ms",
    )
    cpu = run.cpu.get("register")
    if cpu is not None:
        result.add("CPU cores used during the ramp", cpu.text())


def _sustained_rows(result: ScenarioResult, run: JobsRun, load: FleetReport) -> None:
    cfg, lat = run.cfg, load.latency
    result.add_section(
        f"1. sustained: {cfg.clients} sessions, {cfg.rate:g} jobs/s offered for "
        f"{cfg.load_s:g} s, {cfg.processing_ms:g} ms processing"
    )
    assign = lat[metrics.UTTERANCE_TO_ASSIGN]
    result.add(
        "utterance -> job_assign p50",
        ms(assign.p50_ms),
        f"<= {HOP_TARGET_MS:g} ms",
        assign.count > 0 and assign.p50_ms <= HOP_TARGET_MS,
    )
    result.add("utterance -> job_assign p99", ms(assign.p99_ms), "baseline job creation 50-300 ms")
    back = lat[metrics.RESULT_TO_ANSWER]
    result.add(
        "job_result -> translation_result p50",
        ms(back.p50_ms),
        f"<= {HOP_TARGET_MS:g} ms",
        back.count > 0 and back.p50_ms <= HOP_TARGET_MS,
    )
    result.add(
        "job_result -> translation_result p99", ms(back.p99_ms), "baseline completion 10-50 ms"
    )
    e2e = lat[metrics.END_TO_END]
    result.add("end-to-end p50 / p99", p50_p99(e2e), f"incl. {cfg.processing_ms:g} ms processing")
    result.add(
        "end-to-end less processing p50 / p99",
        _overhead(e2e, cfg.processing_ms),
        _celery_rt(run),
    )
    result.add(
        "completed jobs/s",
        f"{load.answers_per_s:.1f}",
        f"offered {cfg.rate:g}/s over {load.duration_s:.1f} s",
    )
    result.add(
        "correctness (exactly once, in order)",
        correctness_text(load),
        "all",
        exactly_once(load),
    )
    cpu = run.cpu.get("sustained")
    if cpu is not None and load.answered:
        result.add("CPU ms per job, by process", cpu.text(per=load.answered), "at the offered rate")


def _celery_rate(run: JobsRun) -> str:
    same = run.celery_saturation(run.cfg.saturation_processing_ms)
    if same is None:
        return "Celery not measured"
    return f"Celery {same['tasks_per_s']:.0f}/s"


def _saturation_rows(result: ScenarioResult, run: JobsRun, sat: SaturationReport) -> None:
    cfg, lat = run.cfg, sat.latency
    result.add_section(
        f"2. saturation: {cfg.saturation_clients} closed-loop sessions x "
        f"{cfg.saturation_window} outstanding, {cfg.saturation_processing_ms:g} ms processing, "
        f"{cfg.saturation_s:g} s (load generator on the same 2 cores)"
    )
    result.add(
        "correct jobs/s at saturation",
        f"{sat.jobs_per_s:.1f}",
        f">= {JOBS_TARGET:g}/s; {_celery_rate(run)}",
        sat.jobs_per_s >= JOBS_TARGET,
    )
    result.add("end-to-end p50 / p99 at sat.", p50_p99(lat[metrics.END_TO_END]))
    result.add(
        "utterance -> job_assign p50 / p99 at sat.", p50_p99(lat[metrics.UTTERANCE_TO_ASSIGN])
    )
    result.add("job_result -> answer p50 / p99 at sat.", p50_p99(lat[metrics.RESULT_TO_ANSWER]))
    result.add(
        "correctness at saturation",
        correctness_text(sat.fleet),
        "all",
        exactly_once(sat.fleet),
    )
    errors = {**sat.fleet.errors_by_code}
    errors.update({f"session {k}": v for k, v in sat.fleet.session_errors.items()})
    errors.update({f"node {k}": v for k, v in run.saturation_nodes.items() if k in NODE_PROBLEMS})
    text = ", ".join(f"{k} {v}" for k, v in sorted(errors.items()) if v) or "none"
    result.add("errors by code at saturation", text, "none", text == "none")
    cpu = run.cpu.get("saturation")
    if cpu is not None:
        result.add("CPU cores used at saturation", cpu.text(), "2 cores in all")
        result.add("CPU ms per correct job at saturation", cpu.text(per=sat.fleet.correct))
    if run.round_trips and sat.fleet.correct:
        per_job = {k: v / sat.fleet.correct for k, v in sorted(run.round_trips.items())}
        result.add(
            "Redis round trips per correct job at sat.",
            ", ".join(f"{name} {value:.2f}" for name, value in per_job.items()),
            "a command, or a pipeline to one server",
        )


def _celery_rows(result: ScenarioResult, run: JobsRun) -> None:
    cfg = run.cfg
    result.add_section(
        f"3. Celery reference: {cfg.celery_pool} pool x{cfg.celery_concurrency}, broker + "
        f"results on the stack's redis db {cfg.celery_db}, client in its own process"
    )
    if run.celery is None:
        result.add("Celery reference", run.celery_error or "not measured", "measured", False)
        return
    rt = run.celery["round_trip"]
    result.add(
        f"apply_async -> get() p50 / p99, {rt['count']}x",
        f"{ms(rt['latency']['p50_ms'])} / {ms(rt['latency']['p99_ms'])}",
        DESIGN_CELERY_RT,
    )
    for entry in run.celery["saturation"]:
        lat = entry["latency"]
        ok = entry["completed"] == entry["sent"] and not entry["wrong"] and not entry["errors"]
        result.add(
            f"tasks/s, {entry['delay_ms']:g} ms task, {entry['window']} outstanding",
            f"{entry['tasks_per_s']:.1f} ({ms(lat['p50_ms'])} / {ms(lat['p99_ms'])})",
            f"{DESIGN_CELERY_RATE}; {entry['completed']}/{entry['sent']} right",
            ok or None,
        )


def _comparison_rows(result: ScenarioResult, comparison: dict[str, Any]) -> None:
    result.add_section("ours vs Celery (same machine, same redis-server)")
    pairs = (
        ("utterance -> job_assign p50 vs Celery RT", "assign_p50_ms", "celery_rt_p50_ms"),
        ("e2e less processing p50 vs Celery RT", "overhead_p50_ms", "celery_rt_p50_ms"),
        ("end-to-end p50 vs Celery RT", "end_to_end_p50_ms", "celery_rt_p50_ms"),
    )
    for label, ours, theirs in pairs:
        a, b = comparison.get(ours), comparison.get(theirs)
        if a is not None and b is not None:
            result.add(label, f"{ms(a)} vs {ms(b)}", f"x{a / b:.2f} of Celery" if b else "")
    a, b = comparison.get("jobs_per_s"), comparison.get("celery_tasks_per_s")
    if a is not None and b is not None:
        result.add(
            "jobs/s at saturation vs Celery tasks/s",
            f"{a:.0f} vs {b:.0f}",
            f"x{a / b:.2f} of Celery (same delay)" if b else "",
            a >= b,
        )


def comparison(run: JobsRun) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if run.sustained is not None:
        lat = run.sustained.latency
        data["assign_p50_ms"] = lat[metrics.UTTERANCE_TO_ASSIGN].p50_ms
        data["end_to_end_p50_ms"] = lat[metrics.END_TO_END].p50_ms
        data["overhead_p50_ms"] = lat[metrics.END_TO_END].p50_ms - run.cfg.processing_ms
    if run.saturation is not None:
        data["jobs_per_s"] = run.saturation.jobs_per_s
    if run.celery is not None:
        data["celery_rt_p50_ms"] = run.celery["round_trip"]["latency"]["p50_ms"]
        data["celery_rt_p99_ms"] = run.celery["round_trip"]["latency"]["p99_ms"]
        same = run.celery_saturation(run.cfg.saturation_processing_ms)
        none = run.celery_saturation(0.0)
        if same is not None:
            data["celery_tasks_per_s"] = same["tasks_per_s"]
        if none is not None:
            data["celery_tasks_per_s_no_delay"] = none["tasks_per_s"]
    return data


def _service_rows(result: ScenarioResult, run: JobsRun, logs: dict[str, Any]) -> None:
    errors = error_counts(logs)
    result.add_section("services (logs at WARNING; details in the JSON)")
    text = ", ".join(f"{name} {count}" for name, count in errors.items()) or "none"
    result.add("ERROR lines logged", text, "none", not errors)
    if run.celery is not None:
        digest = run.celery.get("worker_log_digest", {})
        result.add("Celery worker ERROR lines", str(digest.get("errors", "?")), "none")


def _fleet_data(report: FleetReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    data = report.as_dict()
    data.pop("client_reports", None)
    data["exactly_once"] = exactly_once(report)
    return data


def build_result(run: JobsRun, logs: dict[str, Any]) -> ScenarioResult:
    result = ScenarioResult()
    _register_rows(result, run)
    if run.sustained is not None:
        _sustained_rows(result, run, run.sustained)
    if run.saturation is not None:
        _saturation_rows(result, run, run.saturation)
    _celery_rows(result, run)
    versus = comparison(run)
    _comparison_rows(result, versus)
    _service_rows(result, run, logs)
    result.ok = (
        run.ramp.registered == run.ramp.nodes
        and run.sustained is not None
        and exactly_once(run.sustained)
        and (run.saturation is None or exactly_once(run.saturation.fleet))
    )
    saturation = run.saturation.as_dict() if run.saturation is not None else None
    if saturation is not None and run.saturation is not None:
        saturation.update(
            node_counters=run.saturation_nodes, exactly_once=exactly_once(run.saturation.fleet)
        )
    sustained = _fleet_data(run.sustained)
    if sustained is not None:
        sustained["node_counters"] = run.sustained_nodes
    result.data.update(
        jobs=run.cfg.as_dict(),
        register=run.ramp.as_dict(),
        sustained=sustained,
        saturation=saturation,
        celery=run.celery,
        celery_error=run.celery_error,
        comparison=versus,
        load_average=run.load,
        cpu={name: cpu.as_dict() for name, cpu in run.cpu.items()},
        redis_round_trips=run.round_trips,
    )
    cfg = run.cfg
    result.notes += [
        f"Load generator: the {cfg.nodes} fake nodes and every session are one Python "
        "process (the bench) on the same 2 cores as redis and the service processes; its "
        "event-loop time is inside every latency and its CPU is taken from the services, "
        "so jobs/s at saturation understates what the scheduler alone carries.",
        "Celery ran first, before any node connected (the stack idle), worker and client "
        "each in their own process, same redis-server (db "
        f"{cfg.celery_db}); its client keeps {cfg.saturation_outstanding} tasks outstanding "
        "on one thread (results by pub/sub), as our saturation keeps "
        f"{cfg.saturation_outstanding} utterances outstanding.",
        f"Celery worker pool {cfg.celery_pool} x{cfg.celery_concurrency}: the fastest "
        "here for a task that sleeps (threads overlap the sleeps in one process; prefork x2 "
        "has only 2 processes to sleep in, solo one task at a time); "
        "`--celery-pool prefork --celery-concurrency 2` measures the classic setup.",
        "Load average (1/5/15 min) at each phase's start: "
        + "; ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}/{v[2]:.2f}" for k, v in run.load.items()),
    ]
    return result
