"""The scenario registry: a scenario module registers itself with `@scenario(...)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.options import BenchOptions
from bench.results import ScenarioResult


@dataclass(frozen=True)
class RunContext:
    """Where one run keeps its files: `run_dir` holds the services' logs."""

    scenario: str
    stamp: str  # UTC, file-name safe
    run_dir: Path


RunFn = Callable[[BenchOptions, RunContext], Awaitable[ScenarioResult]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: RunFn


_SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, summary: str) -> Callable[[RunFn], RunFn]:
    def register(run: RunFn) -> RunFn:
        if name in _SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        _SCENARIOS[name] = Scenario(name, summary, run)
        return run

    return register


def get(name: str) -> Scenario:
    try:
        return _SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(_SCENARIOS)) or "none"
        raise KeyError(f"no scenario {name!r} (known: {known})") from None


def all_scenarios() -> list[Scenario]:
    return [_SCENARIOS[name] for name in sorted(_SCENARIOS)]
