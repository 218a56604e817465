"""Scenario "nodes": the JSON data of a run, everything measured, for bench/results/."""

from __future__ import annotations

from typing import Any

from bench.node_swarm import PhaseReport
from bench.scenarios.nodes_run import NodesRun
from lingua_common.language_index import Pair
from tools.fleet.metrics import summarize


def _phase(report: PhaseReport) -> dict[str, Any]:
    return {
        "attempted": report.attempted,
        "done": report.done,
        "failures": dict(report.failures),
        "elapsed_s": report.elapsed_s,
        "per_s": report.per_s,
        "latency": summarize(report.latencies).as_dict(),
    }


def _by_pair(values: dict[Pair, int]) -> dict[str, int]:
    return {f"{src}:{tgt}": n for (src, tgt), n in sorted(values.items())}


def data_of(run: NodesRun) -> dict[str, Any]:
    view = run.settle.view
    window = run.window
    per_node = run.redis_bytes_per_node("registered")
    return {
        "nodes": run.config.as_dict(),
        "register": {
            "connect": _phase(run.connect),
            "bulk": _phase(run.bulk),
            "paced": _phase(run.paced),
            "paced_registry_own_latency": run.register_server.as_dict(),
            "registered": run.registered,
            "connections_per_gateway": run.connections_per_gateway,
        },
        "index": {
            "settled_after_burst": run.bulk_settle.settled,
            "settle_after_burst_s": run.bulk_settle.waited_s,
            "settled": run.settle.settled,
            "settle_s": run.settle.waited_s,
            "version_after_registration": view.index_version if view else None,
            "members_per_pair": {
                f"{s}:{t}": n for (s, t), n in (view.members if view else {}).items()
            },
            "shards_per_pair": {
                f"{s}:{t}": n for (s, t), n in (view.shards if view else {}).items()
            },
            "version_before_window": run.index_before,
            "version_after_window": run.index_after,
            "unchanged_by_heartbeats": run.index_after == run.index_before,
        },
        "heartbeat": {
            "websocket": {
                "sent": window.sent if window else 0,
                "failed": window.failed if window else 0,
                "skipped": window.skipped if window else 0,
                "elapsed_s": window.elapsed_s if window else 0.0,
                "rate": window.rate if window else 0.0,
                "send_lag": summarize(window.lag_s if window else []).as_dict(),
                "sent_total": run.heartbeats_sent,
                "failed_total": run.heartbeats_failed,
                "skipped_total": run.heartbeats_skipped,
            },
            "grpc_probe": run.probe.as_dict(),
            "registry_stamp_delay": {
                **summarize(run.delivery.delays_s).as_dict(),
                "missing": run.delivery.missing,
                "unmatched": run.delivery.unmatched,
            },
            "registry_own_latency": run.probe_server.as_dict(),
            "redis_latency_usec": run.redis_latency,
            "redis_commands": run.redis_commands,
            "cpu_s": run.window_cpu_s,
            "machine_busy_s": run.window_machine_busy_s,
            "load_after_window": run.load_after_window,
        },
        "find_candidates": {
            "grpc": run.find_grpc.as_dict(),
            "in_memory": run.find_memory_quiet.as_dict(),
            "in_memory_under_load": run.find_memory.as_dict(),
            "shards_match": run.shards_match,
        },
        "memory": {
            "redis": {phase: info.as_dict() for phase, info in run.memory.items()},
            "redis_bytes_per_node": per_node,
            "redis_bytes_per_node_after_window": run.redis_bytes_per_node("after_window"),
            "key_usage": run.key_usage,
            "shared_key_usage": run.shared_usage,
            "rss": {phase: sample.rss for phase, sample in run.procs.items()},
        },
        "readiness": {
            "ready": run.statuses.ready,
            "by_status": dict(run.statuses.by_status),
            "ready_filtered": run.ready_filtered,
            "listed": run.statuses.listed,
            "list_s": run.statuses.elapsed_s,
            "connections_lost": run.lost,
            "not_offline_after_close": run.offline_left,
            "offline_wait_s": run.offline_s,
            "node_errors": run.node_errors,
            "other_messages": run.other_messages,
        },
    }
