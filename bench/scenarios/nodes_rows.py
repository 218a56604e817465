"""Scenario "nodes": table rows and verdict, from what was measured (JSON: nodes_data.py)."""

from __future__ import annotations

import os
import statistics
from typing import Any

from bench.node_swarm import PhaseReport
from bench.results import ScenarioResult, ms, p50_p99
from bench.scenarios.nodes_data import data_of
from bench.scenarios.nodes_run import NodesRun
from bench.service_histograms import Buckets
from bench.stack_runner import error_counts
from tools.fleet.metrics import LatencySummary, summarize

REGISTER_TARGET_MS = 10.0
HEARTBEAT_TARGET_MS = 5.0
FIND_MEMORY_TARGET_US = 100.0  # "well under a millisecond": an order of magnitude under
RATE_TOLERANCE = 0.05  # the offered heartbeat rate counts as met within 5 %
HEARTBEAT_EVAL = "evalsha"  # Redis command of the heartbeat's Lua script


def mib(value: float | None) -> str:
    return "?" if value is None else f"{value / 2**20:.1f} MiB"


def us(summary: LatencySummary) -> str:
    if summary.count == 0:
        return "no samples"
    return f"{summary.p50_ms * 1000:.1f} µs / {summary.p99_ms * 1000:.1f} µs"


def _failures(report: PhaseReport) -> str:
    return f", failed {dict(report.failures)}" if report.failures else ""


def _register_rows(result: ScenarioResult, run: NodesRun) -> None:
    cfg = run.config
    view = run.settle.view
    sharded = sum(1 for n in (view.shards if view else {}).values() if n > 1)
    result.add_section(
        f"nodes: {cfg.nodes} simulated nodes over {cfg.gateways} gateways (real WebSockets), "
        f"{len(view.members) if view else '?'} directed pairs, {sharded} of them sharded "
        f"(pools of <= 100)"
    )
    connect = run.connect
    result.add(
        "connect p50 / p99 (WebSocket handshake)",
        p50_p99(summarize(connect.latencies)),
        f"{cfg.connect_concurrency} handshakes at a time",
    )
    result.add(
        "connected",
        f"{connect.done}/{connect.attempted} at {connect.per_s:.0f}/s{_failures(connect)}",
        "all",
        connect.done == connect.attempted,
    )
    bulk = summarize(run.bulk.latencies)
    result.add(
        f"register p50 / p99 (burst, {cfg.register_concurrency} outstanding)",
        p50_p99(bulk),
        "info: ~ outstanding / throughput",
    )
    result.add(
        "registration throughput (burst)",
        f"{run.bulk.per_s:.0f} nodes/s ({run.bulk.done} in {run.bulk.elapsed_s:.1f} s); "
        f"index caught up {run.bulk_settle.waited_s:.1f} s later",
        "",
    )
    paced = summarize(run.paced.latencies)
    result.add(
        f"register p50 / p99 (paced {cfg.paced_rate:g}/s, {cfg.bulk_nodes} up)",
        p50_p99(paced),
        f"p99 <= {REGISTER_TARGET_MS:g} ms",
        paced.count > 0 and paced.p99_ms <= REGISTER_TARGET_MS,
    )
    result.add(
        "same registrations, registry's own p50 / p99",
        _server_p50_p99(run.register_server),
        "its lingua_grpc_server_handling_seconds",
    )
    failed = sum(r.attempted - r.done for r in (run.bulk, run.paced))
    result.add(
        "registered (node_register_ack)",
        f"{run.registered}/{cfg.nodes}{_failures(run.bulk)}{_failures(run.paced)}",
        "all",
        run.registered == cfg.nodes and failed == 0,
    )
    if view is not None:
        result.add(
            "pool index after registration",
            f"v{view.index_version}, {sum(view.shards.values())} pools, "
            f"{view.total_members()} memberships, largest pool {view.largest_pool}; "
            f"settled in {run.settle.waited_s:.1f} s",
            "every node indexed",
            run.settle.settled,
        )


def _heartbeat_rows(result: ScenarioResult, run: NodesRun) -> None:
    cfg = run.config
    window, probe = run.window, run.probe
    result.add_section(
        f"heartbeats: {cfg.heartbeat_rate:g}/s over WebSockets (every node each "
        f"{cfg.interval_s:.1f} s, evenly spread) for {cfg.window_s:g} s; gRPC probe "
        f"{cfg.probe_rate:g}/s on top"
    )
    if window is not None:
        lag = summarize(window.lag_s)
        result.add(
            "WebSocket heartbeats sent in the window",
            f"{window.sent} = {window.rate:.0f}/s, send lag p99 {ms(lag.p99_ms)}"
            + (f", {window.skipped} skipped (> 2 s late)" if window.skipped else ""),
            f"{cfg.heartbeat_rate:g}/s",
            abs(window.rate - cfg.heartbeat_rate) <= RATE_TOLERANCE * cfg.heartbeat_rate,
        )
    result.add(
        "heartbeat p50 / p99 (gRPC Heartbeat probe)",
        p50_p99(probe.heartbeat),
        f"p99 <= {HEARTBEAT_TARGET_MS:g} ms at {cfg.heartbeat_rate:g}/s",
        probe.heartbeat.count > 0 and probe.heartbeat.p99_ms <= HEARTBEAT_TARGET_MS,
    )
    result.add(
        "probe calls done / planned",
        f"{probe.completed}/{probe.planned} at {probe.achieved_rate:.0f}/s"
        + (f", errors {probe.errors}" if probe.errors else ""),
        "all, no errors",
        probe.completed == probe.planned > 0 and not probe.errors,
    )
    if probe.slow_calls:
        result.add(
            "probe calls > 20 ms",
            f"{len(probe.slow_calls)}, worst {max(ms_ for _, ms_ in probe.slow_calls):.0f} ms",
            "when: heartbeat.grpc_probe.slow_calls",
        )
    delivery = summarize(run.delivery.delays_s)
    result.add(
        "beat sent -> registry stamp p50 / p99",
        p50_p99(delivery),
        f"registry's nodes:last_seen, {delivery.count} nodes",
    )
    evalsha = run.redis_latency.get(HEARTBEAT_EVAL, {})
    calls = run.redis_commands.get(HEARTBEAT_EVAL, {})
    if evalsha:
        result.add(
            "Redis heartbeat script p50 / p99 (server)",
            f"{evalsha.get('p50', 0):.0f} µs / {evalsha.get('p99', 0):.0f} µs",
            f"{int(calls.get('calls', 0))} EVALSHA, {calls.get('usec_per_call', 0):.0f} µs mean",
        )
    result.add(
        "same calls, registry's own p50 / p99",
        _server_p50_p99(run.probe_server),
        "its lingua_grpc_server_handling_seconds",
    )
    beats = (window.sent if window else 0) + probe.completed
    cpu = run.window_cpu_s
    elapsed = window.elapsed_s if window else 0.0
    for name in ("registry", "gateway-0", "gateway-1", "redis", "pool", "bench"):
        used = cpu.get(name)
        if used is None or elapsed <= 0:
            continue
        per_beat = f", {used / beats * 1e6:.0f} µs per beat (all its work)" if beats else ""
        result.add(f"CPU in the window: {name}", f"{100 * used / elapsed:.0f}%{per_beat}")
    busy = run.window_machine_busy_s
    if busy is not None and elapsed > 0:
        ours = sum(v for v in cpu.values() if v is not None)
        cores = os.cpu_count() or 1
        load = ", ".join(f"{x:.1f}" for x in run.load_after_window) or "?"
        result.add(
            "machine CPU in the window",
            f"{100 * busy / elapsed / cores:.0f}% of {cores} cores; other processes "
            f"{100 * max(0.0, busy - ours) / elapsed:.0f}% of a core; load {load}",
            "others ~0% (else latencies are shared)",
        )
    result.add(
        "index_version before / after the window",
        f"{run.index_before} / {run.index_after}",
        "unchanged",
        run.index_after == run.index_before and run.probe_settle.settled,
    )


def _find_rows(result: ScenarioResult, run: NodesRun) -> None:
    cfg = run.config
    grpc_calls, memory = run.find_grpc, run.find_memory
    result.add_section(
        f"FindCandidates: limit {cfg.find_limit}, required asr+nmt, 1/3 with a preferred "
        "pool, 1/4 excluding 2 members; pairs weighted by size; heartbeats go on"
    )
    result.add(
        f"FindCandidates p50 / p99 (gRPC, {grpc_calls.calls} calls)",
        p50_p99(summarize(grpc_calls.latencies)),
        "info: one call at a time",
    )
    quiet = summarize(run.find_memory_quiet.latencies)
    result.add(
        f"FindCandidates p50 / p99 (in memory, {run.find_memory_quiet.calls})",
        us(quiet),
        f"<< 1 ms (p99 <= {FIND_MEMORY_TARGET_US:g} µs)",
        quiet.count > 0 and quiet.p99_ms * 1000 <= FIND_MEMORY_TARGET_US,
    )
    result.add(
        "  same, during the heartbeat load",
        us(summarize(memory.latencies)),
        "info: 2 busy cores; preemption in p99",
    )
    bad = grpc_calls.short + grpc_calls.foreign + sum(grpc_calls.errors.values())
    result.add(
        "FindCandidates answers (gRPC)",
        f"{grpc_calls.short} short, {grpc_calls.foreign} foreign, errors "
        f"{dict(grpc_calls.errors) or 0}; preferred pool first "
        f"{grpc_calls.preferred_first}/{grpc_calls.preferred_calls}",
        "none short or foreign",
        bad == 0 and grpc_calls.calls > 0,
    )
    result.add(
        "pool shards = local LanguageIndex shards",
        "yes" if run.shards_match else "no",
        "same",
        run.shards_match,
    )


def _median(values: list[int | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "absent"
    return f"{statistics.median(present):.0f} B"


def _memory_rows(result: ScenarioResult, run: NodesRun) -> None:
    result.add_section(f"memory with {run.registered} registered nodes")
    empty, registered = run.memory.get("empty"), run.memory.get("registered")
    after = run.memory.get("after_window")
    result.add(
        "Redis used_memory: empty / registered / after",
        f"{mib(empty.used_memory if empty else None)} / "
        f"{mib(registered.used_memory if registered else None)} / "
        f"{mib(after.used_memory if after else None)}",
    )
    per_node, per_node_after = (
        run.redis_bytes_per_node("registered"),
        run.redis_bytes_per_node("after_window"),
    )
    result.add(
        "Redis memory per node (used_memory delta)",
        f"{per_node or 0:.0f} B; {per_node_after or 0:.0f} B after the window",
        "all keys a node causes",
    )
    usage = run.key_usage
    result.add(
        "MEMORY USAGE per node key (median)",
        f"record {_median(usage.get('record', []))}, history "
        f"{_median(usage.get('history', []))}, owner {_median(usage.get('owner', []))}, "
        f"inflight {_median(usage.get('inflight', []))}",
        "inflight absent: no job ran",
    )
    if run.registered:
        shared = ", ".join(
            f"{name} {size / run.registered:.0f} B"
            for name, size in run.shared_usage.items()
            if size is not None
        )
        result.add("shared keys per node", shared)
    empty_procs, loaded = run.procs.get("empty"), run.procs.get("registered")
    if empty_procs is not None and loaded is not None:
        for name, conns in run.connections_per_gateway.items():
            before, now = empty_procs.rss.get(name), loaded.rss.get(name)
            if before is None or now is None or not conns:
                continue
            result.add(
                f"{name} RSS ({conns} node sockets)",
                f"{mib(before)} -> {mib(now)}: {mib((now - before) * 1000 / conns)} per 1,000",
            )
        bench_before, bench_now = empty_procs.rss.get("bench"), loaded.rss.get("bench")
        if bench_before is not None and bench_now is not None and run.registered:
            result.add(
                "bench process RSS per 1,000 nodes",
                mib((bench_now - bench_before) * 1000 / run.registered),
                "the simulated nodes' side",
            )


def _status_rows(result: ScenarioResult, run: NodesRun) -> None:
    result.add_section("node statuses (RegistryService.ListNodes)")
    statuses = run.statuses
    how = "" if statuses.pages else ", status filter"
    result.add(
        "nodes READY",
        f"{statuses.ready}/{run.config.nodes} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(statuses.by_status.items())) or 'none'}"
        f"{how})",
        "all ready after their first beat",
        statuses.ready == run.config.nodes,
    )
    if statuses.pages:
        result.add(
            "READY via the status filter",
            f"{run.ready_filtered}",
            "= READY above",
            run.ready_filtered == statuses.ready,
        )
    if run.offline_left is not None:
        result.add(
            "offline after the sockets closed",
            f"{run.registered - run.offline_left}/{run.registered} in {run.offline_s:.1f} s",
            "all (gateway grace, then DeregisterNode)",
            run.offline_left == 0,
        )
    result.add(
        "connections lost / server errors",
        f"{run.lost} / {run.node_errors or 0}",
        "none",
        run.lost == 0 and not run.node_errors,
    )


def _service_rows(
    result: ScenarioResult, logs: dict[str, Any], exit_codes: dict[str, int | None]
) -> None:
    errors = error_counts(logs)
    result.add_section("services (logs at WARNING; details in the JSON)")
    unclean = {name: code for name, code in exit_codes.items() if code != 0}
    result.add(
        "service exit codes",
        ", ".join(f"{name} {code}" for name, code in unclean.items()) or "all 0",
        "all 0 (-9: killed after 20 s)",
        not unclean,
    )
    text = ", ".join(f"{name} {count}" for name, count in errors.items()) or "none"
    result.add("ERROR lines logged", text, "none", not errors)
    warnings = {
        name: int(entry["levels"].get("WARNING", 0))
        for name, entry in logs.items()
        if entry["levels"].get("WARNING")
    }
    result.add(
        "WARNING lines logged",
        ", ".join(f"{name} {n}" for name, n in warnings.items()) or "none",
    )


def verdict(run: NodesRun) -> bool:
    cfg = run.config
    grpc_calls = run.find_grpc
    return (
        run.registered == cfg.nodes
        and run.settle.settled
        and run.statuses.ready == cfg.nodes
        and run.lost == 0
        and run.index_after == run.index_before
        and run.probe.completed == run.probe.planned > 0
        and not run.probe.errors
        and grpc_calls.calls > 0
        and grpc_calls.short == grpc_calls.foreign == 0
        and not grpc_calls.errors
        and all(r.short == r.foreign == 0 for r in (run.find_memory, run.find_memory_quiet))
    )


def _server_p50_p99(calls: Buckets) -> str:
    p50, p99 = calls.quantile_ms(0.5), calls.quantile_ms(0.99)
    if p50 is None or p99 is None:
        return f"no calls seen ({calls.count:.0f})"
    return f"{p50:.2f} ms / {p99:.2f} ms ({calls.count:.0f} calls)"


def build_result(
    run: NodesRun, logs: dict[str, Any], exit_codes: dict[str, int | None]
) -> ScenarioResult:
    result = ScenarioResult()
    _register_rows(result, run)
    _heartbeat_rows(result, run)
    _find_rows(result, run)
    _memory_rows(result, run)
    _status_rows(result, run)
    _service_rows(result, logs, exit_codes)
    result.ok = verdict(run)
    result.data.update(data_of(run))
    result.notes.append(
        f"All {run.config.nodes} simulated nodes and the harness are one Python process on "
        "the same machine as redis and the 6 service processes; their event-loop time is "
        "inside every latency above but the gRPC heartbeat probe's, which runs in a process "
        "of its own, as the registry's real callers do. Heartbeats have no reply on the "
        "wire: their cost is the gRPC probe's, plus the registry's own receive stamps; the "
        "registry's own histograms show the part spent inside it."
    )
    return result
