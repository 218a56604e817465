"""The spine scenario's table rows, verdict and JSON data, from its phase reports."""

from __future__ import annotations

from typing import Any

from bench.heartbeat_probe import ProbeReport
from bench.options import BenchOptions
from bench.results import ScenarioResult, ms, p50_p99
from bench.saturation import SaturationReport
from bench.stack_runner import error_counts
from tools.fleet import metrics
from tools.fleet.report import FleetReport

HOP_TARGET_MS = 5.0
CELERY_REFERENCE = "ref. Celery+Redis 288/s"


def fully_correct(report: FleetReport) -> bool:
    """Every utterance answered with its own, right translation, in order, on protocol."""
    return (
        report.ok
        and report.sent > 0
        and report.answered == report.sent
        and report.correct == report.sent
        and not report.errors_by_code
        and report.connections_lost == 0
    )


def correctness_text(report: FleetReport) -> str:
    text = (
        f"{report.answered}/{report.sent} answered, {report.correct} correct, "
        f"{report.out_of_order} out of order"
    )
    if report.errors_by_code:
        text += f", errors {report.errors_by_code}"
    return text


def _load_rows(result: ScenarioResult, opts: BenchOptions, load: FleetReport) -> None:
    lat = load.latency
    result.add_section(
        f"spine: {opts.nodes} nodes, {opts.clients} sessions, {opts.gateways} gateways, "
        f"{opts.rate:g} jobs/s offered, {opts.processing_ms:g} ms processing"
    )
    result.add(
        "register p50 / p99 (node WebSocket)", p50_p99(lat[metrics.REGISTER]), "baseline 50-200 ms"
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
    result.add(
        "end-to-end p50 / p99",
        p50_p99(lat[metrics.END_TO_END]),
        f"incl. {opts.processing_ms:g} ms processing",
    )
    result.add(
        "completed jobs/s",
        f"{load.answers_per_s:.1f}",
        f"offered {opts.rate:g}/s over {load.duration_s:.1f} s",
    )
    result.add(
        "correctness", correctness_text(load), "all answered, right, in order", fully_correct(load)
    )


def _probe_rows(result: ScenarioResult, opts: BenchOptions, probe: ProbeReport) -> None:
    result.add_section(
        f"heartbeat probe: gRPC Heartbeat at {opts.probe_rate:g}/s for {opts.probe_s:g} s "
        f"over {probe.registered} probe nodes, during the load"
    )
    result.add("heartbeat p50 / p99 (gRPC)", p50_p99(probe.heartbeat), "baseline 1-10 ms")
    result.add(
        "heartbeat calls done / planned",
        f"{probe.completed}/{probe.planned} at {probe.achieved_rate:.0f}/s",
        "all, no errors",
        probe.completed == probe.planned and not probe.errors,
    )
    if probe.errors:
        result.add("heartbeat probe errors", str(probe.errors))
    result.add(
        "register p50 / p99 (gRPC RegisterNode)", p50_p99(probe.register), "baseline 50-200 ms"
    )


def _saturation_rows(result: ScenarioResult, opts: BenchOptions, sat: SaturationReport) -> None:
    result.add_section(
        f"saturation: {opts.clients} closed-loop sessions x {opts.saturation_window} "
        f"outstanding, {opts.saturation_processing_ms:g} ms processing, "
        f"{opts.saturation_s:g} s"
    )
    result.add("correct jobs/s at saturation", f"{sat.jobs_per_s:.1f}", CELERY_REFERENCE)
    result.add("end-to-end p50 / p99 at saturation", p50_p99(sat.latency[metrics.END_TO_END]))
    result.add(
        "utterance -> job_assign p50 / p99 at sat.",
        p50_p99(sat.latency[metrics.UTTERANCE_TO_ASSIGN]),
    )
    result.add(
        "correctness at saturation",
        correctness_text(sat.fleet),
        "all answered, right, in order",
        fully_correct(sat.fleet),
    )


def _service_rows(result: ScenarioResult, logs: dict[str, Any]) -> None:
    errors = error_counts(logs)
    result.add_section("services (logs at WARNING; details in the JSON)")
    text = ", ".join(f"{name} {count}" for name, count in errors.items()) or "none"
    result.add("ERROR lines logged", text, "none", not errors)


def build_result(
    opts: BenchOptions,
    load: FleetReport,
    probe: ProbeReport,
    saturation: SaturationReport | None,
    logs: dict[str, Any],
) -> ScenarioResult:
    result = ScenarioResult()
    _load_rows(result, opts, load)
    _probe_rows(result, opts, probe)
    if saturation is not None:
        _saturation_rows(result, opts, saturation)
    _service_rows(result, logs)
    result.ok = fully_correct(load) and (saturation is None or fully_correct(saturation.fleet))
    load_data = load.as_dict()
    load_data.pop("client_reports", None)
    result.data.update(
        spine=load_data,
        heartbeat=probe.as_dict(),
        saturation=saturation.as_dict() if saturation is not None else None,
    )
    result.notes.append(
        f"The harness (fleet of {opts.nodes} nodes + {opts.clients} sessions, heartbeat probe) "
        "is one Python process on the same machine as redis and the 6 service processes; "
        "its own event-loop time is inside every latency above, so they overstate the "
        "scheduler's cost."
    )
    return result
