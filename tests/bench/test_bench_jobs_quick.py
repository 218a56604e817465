"""`python -m bench --scenario jobs --quick`: the job lifecycle and its Celery reference,
smoke-sized, with its table and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.celery_reference import with_db
from bench.options import build_options
from bench.scenarios.jobs_config import JobsConfig, jobs_config
from tests.bench.bench_cli import COMMON_KEYS, listed_scenarios, run_bench, the_result

TOP_KEYS = COMMON_KEYS | {
    "jobs",
    "register",
    "sustained",
    "saturation",
    "celery",
    "comparison",
    "load_average",
    "cpu",
    "service_logs",
    "service_exit_codes",
    "run_dir",
}
METRICS = {
    "nodes registered (node WebSocket)",
    "utterance -> job_assign p50",
    "job_result -> translation_result p50",
    "end-to-end p50 / p99",
    "correctness (exactly once, in order)",
    "correct jobs/s at saturation",
    "errors by code at saturation",
    "jobs/s at saturation vs Celery tasks/s",
}
LATENCIES = {"utterance_to_assign", "result_to_answer", "end_to_end"}
COMPARISON = {
    "assign_p50_ms",
    "end_to_end_p50_ms",
    "overhead_p50_ms",
    "jobs_per_s",
    "celery_rt_p50_ms",
    "celery_tasks_per_s",
}


def test_jobs_config_takes_quick_then_explicit_options() -> None:
    assert jobs_config(build_options(False, {})) == JobsConfig()
    quick = jobs_config(build_options(True, {"dispatchers": 2, "nodes": 20}))
    assert (quick.nodes, quick.dispatchers, quick.celery_round_trips) == (20, 2, 50)
    with pytest.raises(ValueError, match="celery pool"):
        build_options(False, {"celery_pool": "gevent"})


def test_celery_url_is_the_stack_redis_on_another_db() -> None:
    assert with_db("redis://127.0.0.1:6400/0", 1) == "redis://127.0.0.1:6400/1"


def test_list_names_the_jobs_scenario() -> None:
    assert "jobs" in listed_scenarios()


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_quick_jobs_answers_every_utterance_and_measures_celery(tmp_path: Path) -> None:
    done = run_bench("--scenario", "jobs", "--quick", "--out", str(tmp_path), timeout_s=280)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    data = the_result(tmp_path, "jobs", done)
    assert "utterance -> job_assign p50" in done.stdout

    assert set(data) >= TOP_KEYS
    assert data["scenario"] == "jobs" and data["quick"] is True
    assert len(data["machine"]["load_average_at_start"]) == 3
    assert {row["metric"] for row in data["metrics"]} >= METRICS

    register = data["register"]
    assert register["registered"] == register["nodes"] == data["jobs"]["nodes"], register

    # Every quick utterance answered exactly once, with its own translation, in order.
    sustained = data["sustained"]
    assert sustained["sent"] == data["jobs"]["clients"] * data["jobs"]["utterances"]
    assert sustained["answered"] == sustained["correct"] == sustained["sent"], sustained
    assert sustained["duplicates"] == sustained["out_of_order"] == 0, sustained
    assert sustained["unanswered"] == 0 and sustained["errors_by_code"] == {}, sustained
    assert sustained["exactly_once"] is True
    assert set(sustained["latency"]) >= LATENCIES
    assert sustained["latency"]["end_to_end"]["count"] == sustained["sent"]

    saturation = data["saturation"]
    assert saturation["answered"] == saturation["sent"] > 0, saturation
    assert saturation["jobs_per_s"] > 0
    assert set(data["cpu"]) >= {"register", "sustained", "saturation", "celery"}
    assert data["cpu"]["saturation"]["cpu_s"]["dispatcher-0"] > 0

    celery = data["celery"]
    assert celery is not None, data["celery_error"]
    assert celery["ok"] is True and celery["exit_codes"]["worker"] is not None
    assert celery["round_trip"]["count"] == data["jobs"]["celery_round_trips"]
    assert celery["round_trip"]["wrong"] == 0
    assert celery["round_trip"]["latency"]["p50_ms"] > 0
    for entry in celery["saturation"]:
        assert entry["completed"] == entry["sent"] > 0 and entry["wrong"] == 0, entry
    assert set(data["comparison"]) >= COMPARISON
    assert all(code == 0 for code in data["service_exit_codes"].values())
