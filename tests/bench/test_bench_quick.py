"""`python -m bench --quick`: the whole suite, a tiny fleet, a JSON result on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.bench_cli import COMMON_KEYS, listed_scenarios, run_bench, the_result

TOP_KEYS = COMMON_KEYS | {
    "spine",
    "heartbeat",
    "saturation",
    "service_logs",
    "service_exit_codes",
    "run_dir",
}
MACHINE_KEYS = {"nproc", "python", "timestamp_utc", "git_commit"}
LATENCIES = {"register", "utterance_to_assign", "result_to_answer", "end_to_end"}


def test_list_names_the_spine_scenario() -> None:
    assert "spine" in listed_scenarios()


def test_unknown_scenario_is_a_usage_error() -> None:
    done = run_bench("--scenario", "nope", timeout_s=60)
    assert done.returncode == 2
    assert "no scenario 'nope'" in done.stderr


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_quick_spine_writes_its_json(tmp_path: Path) -> None:
    done = run_bench("--quick", "--out", str(tmp_path), timeout_s=170)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    data = the_result(tmp_path, "spine", done)
    assert "utterance -> job_assign p50" in done.stdout

    assert set(data) >= TOP_KEYS
    assert data["scenario"] == "spine" and data["quick"] is True
    assert set(data["machine"]) >= MACHINE_KEYS
    assert {row["metric"] for row in data["metrics"]} >= {
        "utterance -> job_assign p50",
        "job_result -> translation_result p50",
        "heartbeat p50 / p99 (gRPC)",
        "completed jobs/s",
    }

    spine = data["spine"]
    assert spine["sent"] == data["options"]["clients"] * data["options"]["utterances"]
    assert spine["answered"] == spine["sent"], spine
    assert spine["correct"] == spine["sent"] and spine["out_of_order"] == 0, spine
    assert set(spine["latency"]) >= LATENCIES
    assert spine["latency"]["end_to_end"]["count"] == spine["sent"]

    beats = data["heartbeat"]
    assert beats["completed"] == beats["planned"] > 0, beats
    assert beats["heartbeat"]["p50_ms"] > 0

    saturation = data["saturation"]
    assert saturation["answered"] == saturation["sent"] > 0, saturation
    assert saturation["jobs_per_s"] > 0
    assert all(code == 0 for code in data["service_exit_codes"].values())
