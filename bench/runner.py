"""One benchmark run: the scenario, then its table and its JSON file."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import catalog, scenarios
from bench.machine import machine_facts, utc_stamp
from bench.options import BenchOptions
from bench.results import ScenarioResult
from bench.table import render

log = logging.getLogger(__name__)

__all__ = ["BenchError", "RunOutcome", "run_scenario", "scenarios"]


class BenchError(RuntimeError):
    """The scenario could not finish (the stack was stopped all the same)."""


@dataclass(frozen=True)
class RunOutcome:
    result: ScenarioResult
    table: str
    json_path: Path


async def run_scenario(name: str, opts: BenchOptions) -> RunOutcome:
    entry = catalog.get(name)
    started_at = dt.datetime.now(dt.UTC)
    stamp = utc_stamp(started_at)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    ctx = catalog.RunContext(name, stamp, opts.out_dir / f"{name}-{stamp}-logs")
    machine = machine_facts(started_at)
    clock = time.perf_counter()
    try:
        result = await entry.run(opts, ctx)
    except Exception as exc:
        raise BenchError(f"{type(exc).__name__}: {exc}\nservice logs: {ctx.run_dir}") from exc
    wall_s = time.perf_counter() - clock
    title = (
        f"bench {name}{' (quick)' if opts.quick else ''}  {machine['timestamp_utc']}  "
        f"commit {machine['git_commit'] or '?'}  nproc {machine['nproc']}  "
        f"python {machine['python']}  load {_load(machine)}  wall {wall_s:.0f} s  "
        f"{'OK' if result.ok else 'FAILED'}"
    )
    document: dict[str, Any] = {
        "scenario": name,
        "ok": result.ok,
        "quick": opts.quick,
        "started_at": machine["timestamp_utc"],
        "wall_s": wall_s,
        "machine": machine,
        "options": opts.as_dict(),
        "metrics": [row.as_dict() for row in result.rows if not row.metric.startswith("-- ")],
        "notes": result.notes,
        **result.data,
    }
    path = opts.out_dir / f"{name}-{stamp}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return RunOutcome(result, render(title, result.rows, result.notes), path)


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_average_at_start")
    return f"{load[0]:.2f}" if load else "?"
