"""`make chaos` / `python -m tools.chaos`: sustained load through the simulated fleet
while one part of the stack at a time fails, the invariants checked after each fault.

python -m tools.chaos                          # every fault, the full run (a few minutes)
python -m tools.chaos --quick                  # the CI run: three faults, small load
python -m tools.chaos --faults redis-empty,node-flap --rate 30
python -m tools.chaos --list                   # the faults there are

Prints one table row per fault, writes the same as JSON (bench/results/chaos-*.json),
exits 1 when an invariant failed. Every process it started is stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.chaos import faults
from tools.chaos.config import DEFAULT_OUT_DIR, QUICK_FAULTS, QUICK_SETTINGS, ChaosConfig
from tools.chaos.phase import PhaseResult
from tools.chaos.report import run_paths, write_report
from tools.chaos.suite import SuiteResult, run_suite
from tools.chaos.table import render

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
ALL_FAULTS = tuple(faults.FAULTS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--faults", default=None, help=f"comma-separated (default: all: {','.join(ALL_FAULTS)})")
    a("--list", action="store_true", help="list the faults and exit")
    a("--quick", action="store_true", help=f"the CI run ({', '.join(QUICK_FAULTS)}), small")
    a("--nodes", type=int, default=None, help="simulated nodes (default 8)")
    a("--sessions", type=int, default=None, help="client sessions (default 8, half two-way)")
    a("--rate", type=float, default=None, help="utterances/s over all sessions (default 20)")
    a("--processing-ms", type=float, default=None, help="a node's time per job (default 300)")
    a("--lead", type=float, default=None, help="seconds of load before each fault (default 4)")
    a("--after", type=float, default=None, help="seconds of load after each fault (default 10)")
    a(
        "--heartbeat-ms",
        type=int,
        default=None,
        help="LINGUA_HEARTBEAT_INTERVAL_MS for the stack and the nodes (default: 15000)",
    )
    a("--out", type=Path, default=DEFAULT_OUT_DIR, help=f"results directory ({DEFAULT_OUT_DIR})")
    a("--log-level", default="INFO", help="the services' log level (default INFO)")
    a("-v", "--verbose", action="count", default=0)
    return p


def config_from_args(ns: argparse.Namespace) -> ChaosConfig:
    values: dict[str, object] = dict(QUICK_SETTINGS) if ns.quick else {}
    named = {
        "nodes": ns.nodes,
        "sessions": ns.sessions,
        "rate": ns.rate,
        "processing_ms": ns.processing_ms,
        "lead_s": ns.lead,
        "after_s": ns.after,
        "heartbeat_ms": ns.heartbeat_ms,
    }
    values.update({k: v for k, v in named.items() if v is not None})
    chosen = QUICK_FAULTS if ns.quick else ALL_FAULTS
    if ns.faults:
        chosen = tuple(f.strip() for f in ns.faults.split(",") if f.strip())
    for name in chosen:
        faults.get(name)
    return ChaosConfig(
        faults=chosen,
        out_dir=ns.out,
        log_level=ns.log_level,
        **values,  # type: ignore[arg-type]
    )


async def _main(config: ChaosConfig) -> tuple[SuiteResult, Path]:
    # Ctrl-C cancels this task (asyncio.run); SIGTERM does the same: the stack stops.
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

    def progress(phase: PhaseResult) -> None:
        verdict = "ok" if phase.ok else "FAILED: " + "; ".join(c.name for c in phase.failed)
        print(f"chaos: {phase.fault}: {verdict}", flush=True)

    paths = run_paths(config.out_dir, dt.datetime.now(dt.UTC))
    result = await run_suite(config, paths.run_dir, progress)
    write_report(config, result, paths.json_path)
    return result, paths.json_path


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(ns.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not ns.verbose:
        # Faults make the fleet warn (sockets lost, refusals): expected, and the checks
        # judge what came of it. -v shows them.
        logging.getLogger("tools.fleet").setLevel(logging.ERROR)
    if ns.list:
        for fault in faults.FAULTS.values():
            print(f"{fault.name:<18} {fault.summary}")
        return EXIT_OK
    try:
        config = config_from_args(ns)
    except (KeyError, ValueError) as exc:
        print(f"chaos: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result, json_path = asyncio.run(_main(config))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("chaos: interrupted; everything started was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(render(result.phases))
    for check in result.checks:
        if not check.ok:
            print(f"run: FAILED {check.name}: {check.detail}")
    print(f"results: {json_path}")
    print(f"service logs: {result.run_dir}")
    print("chaos: " + ("every invariant held" if result.ok else "FAILED"))
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
