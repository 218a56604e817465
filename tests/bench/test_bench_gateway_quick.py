"""`python -m bench --scenario gateway --quick`: idle sessions held by one gateway and
heartbeat round trips per gateway core, smoke-sized, with its table and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_cli import listed_scenarios, run_bench, the_result

METRICS = {
    "idle sessions held",
    "memory per idle session",
    "messages/s per gateway core (in + out)",
    "round trip p50 / p99",
}


def test_list_names_the_gateway_scenario() -> None:
    assert "gateway" in listed_scenarios()


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_quick_gateway_holds_its_sessions_and_measures_messages_per_core(tmp_path: Path) -> None:
    done = run_bench("--scenario", "gateway", "--quick", "--out", str(tmp_path), timeout_s=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = the_result(tmp_path, "gateway", done)
    assert "messages/s per gateway core" in done.stdout

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
