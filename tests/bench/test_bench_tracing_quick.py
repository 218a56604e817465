"""`python -m bench --scenario tracing --quick`: the same fleet with tracing off and on
(exporting to an in-process OTLP receiver), with its table and JSON."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.bench.bench_cli import run_bench


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_quick_tracing_compares_both_modes_on_correct_runs(tmp_path: Path) -> None:
    done = run_bench("--scenario", "tracing", "--quick", "--out", str(tmp_path), timeout_s=230)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (path,) = sorted(tmp_path.glob("tracing-*.json"))
    assert "end_to_end p50 off / on / 10%" in done.stdout
    data = orjson.loads(path.read_bytes())
    rounds = data["rounds"]
    assert [r["mode"] for r in rounds] == ["off", "on", "sampled"]
    assert all(r["ok"] and r["answered"] == r["sent"] > 0 for r in rounds)
    off, on, sampled = rounds
    # Off exports nothing; on, every job leaves spans from the services behind; sampled,
    # about a tenth of them (node registrations are traced too).
    assert off["spans_received"] == 0
    assert on["spans_received"] >= 10 * on["answered"]
    assert sampled["spans_received"] < on["spans_received"] / 2
