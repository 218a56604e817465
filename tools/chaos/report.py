"""The run as JSON, next to the benchmark's results: the machine, the settings, and per
fault its counts, recovery times, slots and checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.machine import machine_facts, utc_stamp
from tools.chaos.config import ChaosConfig
from tools.chaos.suite import SuiteResult


@dataclass(frozen=True)
class RunPaths:
    json_path: Path
    run_dir: Path  # the services' logs


def run_paths(out_dir: Path, started_at: dt.datetime) -> RunPaths:
    stamp = utc_stamp(started_at)
    return RunPaths(out_dir / f"chaos-{stamp}.json", out_dir / f"chaos-{stamp}-logs")


def document(config: ChaosConfig, result: SuiteResult) -> dict[str, Any]:
    settings = dataclasses.asdict(config)
    settings["out_dir"] = str(config.out_dir)
    settings["env"] = dict(config.env)
    settings["service_env"] = config.service_env()
    return {
        "scenario": "chaos",
        "machine": machine_facts(result.started_at),
        "config": settings,
        **result.as_dict(),
    }


def write_report(config: ChaosConfig, result: SuiteResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(document(config, result), option=orjson.OPT_INDENT_2)
    path.write_bytes(data + b"\n")
