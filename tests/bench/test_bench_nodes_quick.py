"""`python -m bench --scenario nodes --quick`: the node-lifecycle scenario, smoke-sized."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_cli import COMMON_KEYS, listed_scenarios, run_bench, the_result

TOP_KEYS = COMMON_KEYS | {
    "nodes",
    "register",
    "index",
    "heartbeat",
    "find_candidates",
    "memory",
    "readiness",
    "service_logs",
    "service_exit_codes",
    "run_dir",
}
METRICS = {
    "connected",
    "registered (node_register_ack)",
    "heartbeat p50 / p99 (gRPC Heartbeat probe)",
    "index_version before / after the window",
    "nodes READY",
}


def test_list_names_the_nodes_scenario() -> None:
    assert "nodes" in listed_scenarios()


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_quick_nodes_registers_every_node_and_all_become_ready(tmp_path: Path) -> None:
    done = run_bench("--scenario", "nodes", "--quick", "--out", str(tmp_path), timeout_s=230)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    data = the_result(tmp_path, "nodes", done)
    assert "register p50 / p99" in done.stdout

    assert set(data) >= TOP_KEYS
    assert data["scenario"] == "nodes" and data["quick"] is True
    assert {row["metric"] for row in data["metrics"]} >= METRICS

    nodes = data["nodes"]["nodes"]
    register = data["register"]
    assert register["connect"]["done"] == nodes, register["connect"]
    assert register["registered"] == nodes, register
    assert register["bulk"]["done"] + register["paced"]["done"] == nodes
    assert register["paced"]["latency"]["count"] > 0

    readiness = data["readiness"]
    assert readiness["ready"] == nodes, readiness
    assert readiness["ready_filtered"] == nodes, readiness
    assert readiness["connections_lost"] == 0

    index = data["index"]
    assert index["settled"] is True
    assert index["version_before_window"] == index["version_after_window"] > 0, index

    websocket = data["heartbeat"]["websocket"]
    assert websocket["sent"] > 0 and websocket["failed"] == 0, websocket
    probe = data["heartbeat"]["grpc_probe"]
    assert probe["completed"] == probe["planned"] > 0, probe
    assert probe["heartbeat"]["p50_ms"] > 0

    find = data["find_candidates"]
    assert find["grpc"]["calls"] > 0 and find["grpc"]["errors"] == {}, find["grpc"]
    assert find["grpc"]["short_answers"] == find["grpc"]["foreign_candidates"] == 0
    assert find["in_memory"]["latency"]["p99_ms"] > 0

    memory = data["memory"]
    assert memory["redis_bytes_per_node"] > 0
    assert memory["key_usage"]["record"][0] > 0
    assert data["ok"] is True, data["metrics"]
