"""`python -m bench --scenario gateway --quick`: idle sessions held by one gateway and
heartbeat round trips per gateway core, smoke-sized, with its table and JSON."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
METRICS = {
    "idle sessions held",
    "memory per idle session",
    "messages/s per gateway core (in + out)",
    "round trip p50 / p99",
}


def test_list_names_the_gateway_scenario() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--list"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "gateway" in {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_quick_gateway_holds_its_sessions_and_measures_messages_per_core(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--scenario", "gateway", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = sorted(tmp_path.glob("gateway-*.json"))
    assert len(files) == 1, done.stdout + done.stderr[-3000:]
    assert f"results: {files[0]}" in done.stdout
    assert "messages/s per gateway core" in done.stdout

    data = orjson.loads(files[0].read_bytes())
    assert data["scenario"] == "gateway" and data["quick"] is True and data["ok"] is True
    assert {row["metric"] for row in data["metrics"]} >= METRICS
    idle, throughput = data["gateway"]["idle"], data["gateway"]["throughput"]
    assert idle["opened"] == idle["planned"] == data["gateway_bench"]["idle"] == 500
    assert idle["rss_after_kb"] > idle["rss_before_kb"] > 0
    assert 0 < idle["kb_per_connection"] < 1024
    assert throughput["round_trips"] > 0 and throughput["gateway_cpu_s"] > 0
    assert throughput["messages_per_core_s"] > 0
    assert throughput["latency"]["count"] > 0
    assert all(code == 0 for code in data["service_exit_codes"].values())
