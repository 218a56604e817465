"""The whole run: the stack and its nodes up, one phase per fault, everything stopped
on any exit (an error, Ctrl-C, SIGTERM), and what each phase found."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.chaos import faults
from tools.chaos.config import ChaosConfig
from tools.chaos.invariants import Check
from tools.chaos.phase import PhaseResult, run_phase
from tools.chaos.world import World
from tools.launcher.processes import ServiceStartError
from tools.launcher.redis_server import RedisUnavailableError

log = logging.getLogger(__name__)

# A fault that could not be carried out (a restart that never got healthy): the stack
# is not whole, so the phases after it would measure nothing.
FAULT_ERRORS = (TimeoutError, ServiceStartError, RedisUnavailableError)


@dataclass
class SuiteResult:
    started_at: dt.datetime
    run_dir: Path
    phases: list[PhaseResult] = field(default_factory=list)
    # Problems of the run as a whole: a fault that could not be carried out, a service
    # that did not stop cleanly at the end.
    checks: list[Check] = field(default_factory=list)
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # each fleet node's counters
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            bool(self.phases) and all(p.ok for p in self.phases) and all(c.ok for c in self.checks)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "run_dir": str(self.run_dir),
            "wall_s": self.wall_s,
            "phases": [phase.as_dict() for phase in self.phases],
            "checks": [check.as_dict() for check in self.checks],
            "exit_codes": self.exit_codes,
            "nodes": self.nodes,
        }


async def run_suite(
    config: ChaosConfig,
    run_dir: Path,
    on_phase: Callable[[PhaseResult], None] = lambda _: None,
) -> SuiteResult:
    chosen = [faults.get(name) for name in config.faults]  # unknown names fail first
    result = SuiteResult(dt.datetime.now(dt.UTC), run_dir)
    clock = time.perf_counter()
    world = World(config, run_dir)
    try:
        log.info("starting the stack in %s", run_dir)
        world.start_stack()
        await world.start_nodes()
        for fault in chosen:
            log.info("phase %s: %s", fault.name, fault.summary)
            try:
                phase = await run_phase(world, fault, config)
            except FAULT_ERRORS as error:
                result.checks.append(Check(f"fault {fault.name} carried out", False, str(error)))
                break
            result.phases.append(phase)
            on_phase(phase)
    finally:
        result.nodes = world.node_counters()
        with _stop_signals_held():
            await world.stop_nodes()
            result.exit_codes = world.stop_stack()
        result.wall_s = time.perf_counter() - clock
    unclean = {name: code for name, code in result.exit_codes.items() if code not in (0, None)}
    result.checks.append(
        Check("services stop cleanly", not unclean, f"non-zero exits: {unclean or 'none'}")
    )
    return result


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Stopping takes seconds and must not be cut short by a second Ctrl-C (or make's
    TERM to its process group): every process started must be stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
