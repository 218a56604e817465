"""`python -m bench`: start the suite, drive a simulated fleet, print a table, write JSON.

python -m bench                       # the spine scenario, full size
python -m bench --quick               # smoke-sized run of the same scenario
python -m bench --list                # the scenarios there are
python -m bench --scenario spine --rate 150 --processing-ms 30 --out /tmp/bench
python -m bench --scenario nodes      # 10,000 nodes: register, heartbeat, FindCandidates, memory
python -m bench --scenario jobs       # 1,000 nodes: job latency, jobs/s, Celery reference
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import catalog
from bench.options import CELERY_POOLS, DEFAULT_OUT_DIR, build_options
from bench.runner import BenchError, RunOutcome, run_scenario

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--scenario", default="spine", help="scenario to run (default: spine)")
    a("--list", action="store_true", help="list the scenarios and exit")
    a("--quick", action="store_true", help="smoke-sized run (tiny fleet, a few seconds)")
    a("--out", type=Path, default=None, help=f"results directory (default: {DEFAULT_OUT_DIR})")
    a("--nodes", type=int, default=None, help="fake nodes (default 200; nodes: 10000)")
    a("--clients", type=int, default=None, help="client sessions (default 50)")
    a("--rate", type=float, default=None, help="total jobs/s offered (default 100)")
    a("--utterances", type=int, default=None, help="utterances per session (default 40)")
    a("--processing-ms", type=float, default=None, help="node delay per job (default 20)")
    a("--heartbeat", type=float, default=None, help="heartbeat interval, s (default 2)")
    a(
        "--probe-rate",
        type=float,
        default=None,
        help="gRPC Heartbeat calls/s (default 300; nodes: 50)",
    )
    a(
        "--probe-seconds",
        type=float,
        default=None,
        help="heartbeat probe length (default 5; nodes: the heartbeat window, 30)",
    )
    a(
        "--heartbeat-rate",
        type=float,
        default=None,
        help="nodes: WebSocket heartbeats/s over all nodes (default 700)",
    )
    a("--saturation-seconds", type=float, default=None, help="0 skips it (default 10)")
    a("--saturation-window", type=int, default=None, help="outstanding per session (default 1)")
    a("--dispatchers", type=int, default=None, help="jobs: dispatcher replicas (default 1)")
    a(
        "--celery-pool",
        choices=CELERY_POOLS,
        default=None,
        help="jobs: the Celery reference worker's pool (default threads)",
    )
    a("--celery-concurrency", type=int, default=None, help="jobs: its concurrency (default 16)")
    a(
        "--celery-seconds",
        type=float,
        default=None,
        help="jobs: Celery saturation length, 0 skips the reference (default 10)",
    )
    a("-v", "--verbose", action="count", default=0)
    return p


def overrides(ns: argparse.Namespace) -> dict[str, object]:
    return {
        "out_dir": ns.out,
        "nodes": ns.nodes,
        "clients": ns.clients,
        "rate": ns.rate,
        "utterances": ns.utterances,
        "processing_ms": ns.processing_ms,
        "heartbeat_s": ns.heartbeat,
        "probe_rate": ns.probe_rate,
        "probe_s": ns.probe_seconds,
        "saturation_s": ns.saturation_seconds,
        "saturation_window": ns.saturation_window,
        "heartbeat_rate": ns.heartbeat_rate,
        "dispatchers": ns.dispatchers,
        "celery_pool": ns.celery_pool,
        "celery_concurrency": ns.celery_concurrency,
        "celery_seconds": ns.celery_seconds,
    }


async def _main(name: str, quick: bool, values: dict[str, object]) -> RunOutcome:
    # Ctrl-C cancels this task (asyncio.Runner); SIGTERM does the same, so the stack stops.
    gc.freeze()  # the harness's own GC pauses would land in the latencies; keep them short
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_scenario(name, build_options(quick, values))


def _run(coro_name: str, quick: bool, values: dict[str, object]) -> RunOutcome:
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.run(_main(coro_name, quick, values))
    return uvloop.run(_main(coro_name, quick, values))  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(ns.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if ns.list:
        for entry in catalog.all_scenarios():
            print(f"{entry.name:<12} {entry.summary}")
        return EXIT_OK
    try:
        catalog.get(ns.scenario)
        build_options(ns.quick, overrides(ns))
    except (KeyError, ValueError) as exc:
        print(f"bench: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        outcome = _run(ns.scenario, ns.quick, overrides(ns))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BenchError as exc:
        log.debug("scenario failed", exc_info=True)
        print(f"bench: {ns.scenario} failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(outcome.table)
    print(f"results: {outcome.json_path}")
    print(f"service logs: {outcome.result.data.get('run_dir', '-')}")
    return EXIT_OK if outcome.result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
