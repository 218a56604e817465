"""The Celery reference's measuring client, run as its own process by bench.celery_reference.

python -m bench.celery_client --round-trips 500 --seconds 10 --window 100 --delay-ms 5

Celery's client is synchronous, so it gets a process of its own (the bench's event loop
stays free, and a Ctrl-C kill of this process stops it wherever it is). Phases:
1. warm-up: a few round trips; the first waits until the worker consumes (readiness);
2. round trips, unloaded: `apply_async(...).get()` one at a time, `--round-trips` of
   them, task delay `--round-trip-delay-ms` (0: Celery's own cost);
3. saturation, per delay in `--delay-ms` (repeatable): a closed loop keeping `--window`
   tasks outstanding for `--seconds`, on one thread: every result arrives through the
   Redis result backend's pub/sub (`AsyncResult.then` + `drain_events`) and its
   callback checks the echo and submits the next task. Then it drains (bounded).
Prints one JSON document on stdout; exits 1 when a phase could not finish.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tools.fleet.metrics import Reservoir, summarize

log = logging.getLogger("bench.celery_client")

WARMUP = 20
READY_TIMEOUT_S = 60.0  # the first task waits for the worker to come up
TASK_TIMEOUT_S = 10.0
DRAIN_SLACK_S = 15.0
MAX_SAMPLES = 50_000


@dataclass
class Saturation:
    delay_ms: float
    window: int
    sent: int = 0
    completed: int = 0
    wrong: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    send_s: float = 0.0
    wall_s: float = 0.0
    unfinished: int = 0
    latency: Reservoir = field(default_factory=lambda: Reservoir(MAX_SAMPLES))

    def as_dict(self) -> dict[str, Any]:
        return {
            "delay_ms": self.delay_ms,
            "window": self.window,
            "sent": self.sent,
            "completed": self.completed,
            "wrong": self.wrong,
            "errors": dict(self.errors),
            "unfinished": self.unfinished,
            "send_s": self.send_s,
            "wall_s": self.wall_s,
            "tasks_per_s": self.completed / self.wall_s if self.wall_s > 0 else 0.0,
            "latency": summarize(self.latency.values).as_dict(),
        }


def round_trips(task: Any, count: int, delay_ms: float, prefix: str) -> dict[str, Any]:
    samples: list[float] = []
    wrong = 0
    for i in range(count):
        payload = f"{prefix}-{i}"
        started = time.perf_counter()
        answer = task.apply_async((payload, delay_ms)).get(timeout=TASK_TIMEOUT_S)
        samples.append(time.perf_counter() - started)
        wrong += answer != payload
    return {
        "count": count,
        "delay_ms": delay_ms,
        "wrong": wrong,
        "latency": summarize(samples).as_dict(),
    }


def saturate(app: Any, task: Any, seconds: float, window: int, delay_ms: float) -> Saturation:
    report = Saturation(delay_ms=delay_ms, window=window)
    consumer = app.backend.result_consumer
    pending: dict[str, tuple[str, float]] = {}
    started = time.perf_counter()
    stop_at = started + seconds
    last_at = started

    def submit() -> None:
        payload = f"sat{delay_ms:g}-{report.sent}"
        report.sent += 1
        result = task.apply_async((payload, delay_ms))
        pending[result.id] = (payload, time.perf_counter())
        result.then(finished)

    def finished(result: Any) -> None:
        nonlocal last_at
        entry = pending.pop(result.id, None)
        if entry is None:
            return
        payload, sent_at = entry
        last_at = time.perf_counter()
        if result.successful():
            report.completed += 1
            report.latency.add(last_at - sent_at)
            report.wrong += result.result != payload
        else:
            report.errors[str(result.state)] += 1
        if last_at < stop_at:
            submit()

    for _ in range(window):
        submit()
    deadline = stop_at + DRAIN_SLACK_S
    while pending and time.perf_counter() < deadline:
        consumer.drain_events(timeout=0.2)
    report.send_s = min(time.perf_counter(), stop_at) - started
    report.wall_s = last_at - started
    report.unfinished = len(pending)
    return report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.celery_client")
    p.add_argument("--round-trips", type=int, default=500)
    p.add_argument("--round-trip-delay-ms", type=float, default=0.0)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--delay-ms", type=float, action="append", default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from bench.celery_app import app, echo_task  # noqa: PLC0415 - needs the env first

    document: dict[str, Any] = {"ok": False}
    try:
        started = time.perf_counter()
        echo_task.apply_async(("ready", 0.0)).get(timeout=READY_TIMEOUT_S)
        document["worker_ready_s"] = time.perf_counter() - started
        round_trips(echo_task, WARMUP, 0.0, "warmup")
        document["round_trip"] = round_trips(
            echo_task, ns.round_trips, ns.round_trip_delay_ms, "rt"
        )
        document["saturation"] = [
            saturate(app, echo_task, ns.seconds, ns.window, delay).as_dict()
            for delay in (ns.delay_ms or [0.0])
        ]
        document["ok"] = True
    except Exception as exc:
        document["error"] = f"{type(exc).__name__}: {exc}"
        log.exception("celery client failed")
    sys.stdout.write(orjson.dumps(document).decode() + "\n")
    sys.stdout.flush()
    return 0 if document["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
