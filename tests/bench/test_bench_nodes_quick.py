"""`python -m bench --scenario nodes --quick`: the node-lifecycle scenario, smoke-sized."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOP_KEYS = {
    "scenario",
    "ok",
    "quick",
    "started_at",
    "wall_s",
    "machine",
    "options",
    "metrics",
    "notes",
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
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--list"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "nodes" in {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_quick_nodes_registers_every_node_and_all_become_ready(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "nodes", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    files = sorted(tmp_path.glob("nodes-*.json"))
    assert len(files) == 1, done.stdout + done.stderr[-3000:]
    assert f"results: {files[0]}" in done.stdout
    assert "register p50 / p99" in done.stdout

    data = orjson.loads(files[0].read_bytes())
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
