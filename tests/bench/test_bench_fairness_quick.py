"""`python -m bench --scenario fairness --quick`: a good client's utterance round trips
alone and beside four peers sending ~1 MiB frames, smoke-sized, with its table and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_cli import listed_scenarios, run_bench, the_result

METRICS = {
    "good utterance round trip p50 / p99, alone",
    "good utterance round trip p50 / p99, with heavy peers",
    "good answers lost",
    "heavy frames handled by the gateway",
}


def test_list_names_the_fairness_scenario() -> None:
    assert "fairness" in listed_scenarios()


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_quick_fairness_times_the_good_client_alone_and_beside_heavy_peers(
    tmp_path: Path,
) -> None:
    done = run_bench("--scenario", "fairness", "--quick", "--out", str(tmp_path), timeout_s=170)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = the_result(tmp_path, "fairness", done)
    assert data["scenario"] == "fairness" and data["quick"] is True and data["ok"] is True
    assert {row["metric"] for row in data["metrics"]} >= METRICS
    run = data["fairness_run"]
    assert run["alone_latency"]["count"] > 0 and run["heavy_latency"]["count"] > 0
    assert all(p["good"]["sent"] == p["good"]["answered"] for p in run["alone"] + run["heavy"])
    # The heavy peers were paced: far fewer frames handled than the 400/s they offered.
    peers = run["heavy_peers"][0]
    assert 0 < peers["replies"] < 400 * peers["seconds"] / 10
    assert not peers["closed"] and not peers["errors"]
    assert all(code == 0 for code in data["service_exit_codes"].values())
