"""The Celery reference, measured in the same run: a real worker and client, as processes.

Broker and result backend are one Redis URL (the bench stack's private redis-server, on
its own db number so no key mixes with the scheduler's). The worker is
`celery -A bench.celery_app worker` (pool and concurrency as configured); the client is
`python -m bench.celery_client`, whose JSON document is the report. Both run in their
own process groups and are always stopped: worker SIGTERM (warm shutdown), then SIGKILL
to its group after a grace period; the client is killed on any early exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from bench.machine import REPO_ROOT

log = logging.getLogger(__name__)

# Shared with bench.celery_app (the worker's and the client's side), which imports them:
# this module itself must not import celery, so the bench runs without it.
URL_ENV = "BENCH_CELERY_URL"
QUEUE = "bench"
STOP_GRACE_S = 10.0
CLIENT_SLACK_S = 120.0  # worker start, warm-up, drains, on top of the measured time


@dataclass(frozen=True)
class CeleryConfig:
    redis_url: str  # the server; the db number is replaced by `db`
    db: int
    pool: str
    concurrency: int
    round_trips: int
    seconds: float
    window: int
    delays_ms: tuple[float, ...]  # one saturation pass per delay
    log_path: Path

    @property
    def url(self) -> str:
        return with_db(self.redis_url, self.db)

    def worker_args(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_app",
            "worker",
            "-Q",
            QUEUE,
            f"--pool={self.pool}",
            f"--concurrency={self.concurrency}",
            "--loglevel=WARNING",
            # No peer chatter over the broker: only the tasks move (as in a tuned setup).
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=bench-{os.getpid()}@%h",
        ]

    def client_args(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "bench.celery_client",
            "--round-trips",
            str(self.round_trips),
            "--seconds",
            str(self.seconds),
            "--window",
            str(self.window),
        ]
        for delay in self.delays_ms:
            args += ["--delay-ms", str(delay)]
        return args

    def env(self) -> dict[str, str]:
        paths = [str(REPO_ROOT), str(REPO_ROOT / "gen"), os.environ.get("PYTHONPATH", "")]
        return {
            **os.environ,
            URL_ENV: self.url,
            "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            # Running as root (a container, CI): json only, so Celery may; say so.
            "C_FORCE_ROOT": "1",
        }


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


class CeleryError(RuntimeError):
    pass


async def _spawn(
    args: list[str], env: dict[str, str], **streams: Any
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *args, cwd=REPO_ROOT, env=env, start_new_session=True, **streams
    )


def _kill_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # start_new_session: the group id is the child's pid, and holds only what it forked.
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


async def _stop(process: asyncio.subprocess.Process, grace_s: float) -> int | None:
    """SIGTERM, then SIGKILL to the whole group after `grace_s`. Never leaves it running:
    if this itself is interrupted, the group is killed before the interruption goes on."""
    try:
        _kill_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            log.warning("celery process %d ignored SIGTERM; killing it", process.pid)
        _kill_group(process, signal.SIGKILL)  # prefork children left behind, if any
        return await asyncio.wait_for(process.wait(), grace_s)
    except BaseException:
        _kill_group(process, signal.SIGKILL)
        raise


def log_digest(path: Path) -> dict[str, Any]:
    """The worker log's warnings and errors (Celery's own text format)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return {"lines": 0, "errors": 0, "samples": []}
    bad = [line for line in lines if "ERROR" in line or "CRITICAL" in line or "Traceback" in line]
    return {"lines": len(lines), "errors": len(bad), "samples": [b[:300] for b in bad[:5]]}


async def run_celery_reference(cfg: CeleryConfig) -> dict[str, Any]:
    """Start the worker, run the client to its end, stop both; the client's report plus
    what was run. Raises CeleryError when the client could not finish."""
    env = cfg.env()
    started = time.perf_counter()
    with cfg.log_path.open("ab") as worker_log:
        worker = await _spawn(
            cfg.worker_args(), env, stdout=worker_log, stderr=asyncio.subprocess.STDOUT
        )
    exit_codes: dict[str, int | None] = {}
    try:
        client = await _spawn(
            cfg.client_args(), env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await _client_output(client, worker, cfg)
        finally:
            exit_codes["client"] = await _stop(client, 2.0)
    finally:
        exit_codes["worker"] = await _stop(worker, STOP_GRACE_S)
    try:
        report: dict[str, Any] = orjson.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except orjson.JSONDecodeError:
        report = {}
    if not report.get("ok"):
        tail = err.decode(errors="replace")[-1500:]
        raise CeleryError(f"celery client failed: {report.get('error', '?')}\n{tail}")
    report.update(
        broker=cfg.url,
        pool=cfg.pool,
        concurrency=cfg.concurrency,
        exit_codes=exit_codes,
        worker_log=str(cfg.log_path),
        worker_log_digest=log_digest(cfg.log_path),
        phase_s=time.perf_counter() - started,
    )
    return report


async def _client_output(
    client: asyncio.subprocess.Process, worker: asyncio.subprocess.Process, cfg: CeleryConfig
) -> tuple[bytes, bytes]:
    """The client's stdout and stderr, unless the worker dies first or time runs out."""
    budget = CLIENT_SLACK_S + cfg.seconds * (1 + len(cfg.delays_ms)) + cfg.round_trips * 0.05
    talking = asyncio.ensure_future(client.communicate())
    dying = asyncio.ensure_future(worker.wait())
    try:
        done, _ = await asyncio.wait(
            {talking, dying}, timeout=budget, return_when=asyncio.FIRST_COMPLETED
        )
        if talking in done:
            return talking.result()
        if dying in done:
            raise CeleryError(f"celery worker exited with {worker.returncode}; see {cfg.log_path}")
        raise CeleryError(f"celery client did not finish in {budget:.0f} s")
    finally:
        for task in (talking, dying):
            task.cancel()
        await asyncio.gather(talking, dying, return_exceptions=True)
