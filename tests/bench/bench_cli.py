"""Running `python -m bench` as a user would, for the benchmark smoke tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

REPO_ROOT = Path(__file__).resolve().parents[2]
# What every scenario's JSON holds besides its own sections.
COMMON_KEYS = {
    "scenario",
    "ok",
    "quick",
    "started_at",
    "wall_s",
    "machine",
    "options",
    "metrics",
    "notes",
}


def run_bench(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def listed_scenarios() -> set[str]:
    done = run_bench("--list", timeout_s=60)
    done.check_returncode()
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


def the_result(out_dir: Path, scenario: str, done: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON file the run wrote (named in its output), parsed."""
    files = sorted(out_dir.glob(f"{scenario}-*.json"))
    assert len(files) == 1, done.stdout + done.stderr[-3000:]
    assert f"results: {files[0]}" in done.stdout
    return orjson.loads(files[0].read_bytes())
