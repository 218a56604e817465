"""The chaos suite, short, in CI: the stack as processes under load through the fleet,
one fault at a time, every invariant checked (tools/chaos; `make chaos` is the long run).

And the proof that its checks can fail: the same run against a build whose
slot_release.lua releases nothing (LINGUA_LUA_DIR pointing at a doctored copy of lua/)
must report the slots held and fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lingua_common.redis_client import LUA_DIR
from tools.chaos.config import QUICK_FAULTS, QUICK_SETTINGS, ChaosConfig
from tools.chaos.suite import SuiteResult, run_suite
from tools.chaos.table import render

pytestmark = [pytest.mark.e2e]

# `python -m tools.chaos --quick`: a gateway holding only nodes killed and restarted,
# node flaps, Redis restarted empty (the others: tests/e2e/test_failover.py and
# `make chaos`); small load, short phases.
FAULTS = QUICK_FAULTS


def explain(result: SuiteResult) -> str:
    run = [f"run: {c.name}: {c.detail}" for c in result.checks if not c.ok]
    return "\n".join([render(result.phases), *run, f"logs: {result.run_dir}"])


@pytest.mark.timeout(150)
async def test_short_chaos_run_loses_nothing(tmp_path: Path) -> None:
    config = ChaosConfig(faults=FAULTS, out_dir=tmp_path, **QUICK_SETTINGS)  # type: ignore[arg-type]
    result = await run_suite(config, tmp_path / "logs")

    assert [p.fault for p in result.phases] == list(FAULTS), explain(result)
    assert all(c.ok for c in result.checks), explain(result)
    for phase in result.phases:
        assert phase.ok, explain(result)
        assert phase.tally.translated == phase.tally.accepted > 0


def broken_lua(tmp_path: Path) -> Path:
    """A copy of lua/ whose slot_release.lua frees nothing (and says so)."""
    copy = tmp_path / "lua"
    shutil.copytree(LUA_DIR, copy)
    (copy / "slot_release.lua").write_text(
        "-- Deliberately broken: no slot is ever given back.\n"
        'return {0, redis.call("HLEN", KEYS[1])}\n'
    )
    return copy


@pytest.mark.timeout(90)
async def test_the_checks_catch_a_build_that_never_releases_a_slot(tmp_path: Path) -> None:
    config = ChaosConfig(
        faults=("none",),
        out_dir=tmp_path,
        # Jobs that find every slot taken wait 2 s (not 10) before NO_AVAILABLE_NODE, so
        # the broken run ends soon; a leaked slot is a leak after 3 s.
        env={"LINGUA_LUA_DIR": str(broken_lua(tmp_path)), "LINGUA_PENDING_TIMEOUT_MS": "2000"},
        slot_settle_s=3.0,
        **{**QUICK_SETTINGS, "lead_s": 1.0},  # type: ignore[arg-type]
    )
    result = await run_suite(config, tmp_path / "logs")

    assert not result.ok
    (phase,) = result.phases
    failed = {check.name for check in phase.failed}
    assert "slots agree with jobs running" in failed, explain(result)
    # Every node filled up (LINGUA_NODE_MAX_JOBS, 4) with slots no job holds.
    assert phase.slots.running == 0
    assert phase.slots.held == 4 * len(phase.slots.last) > 0, explain(result)
    assert "| none " in render(result.phases) and "FAILED" in render(result.phases)
