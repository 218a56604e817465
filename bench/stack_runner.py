"""The suite under test, started and always stopped, plus a digest of its service logs."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson

from tools.launcher.stack import Stack, StackConfig

log = logging.getLogger(__name__)

MAX_LOG_BYTES = 32 * 2**20  # digest no more than this much of one log
MAX_SAMPLES = 5


def stack_config(gateways: int, heartbeat_s: float, run_dir: Path) -> StackConfig:
    return StackConfig(
        gateway_ws_ports=(0,) * gateways,
        env={"LINGUA_HEARTBEAT_INTERVAL_MS": str(round(heartbeat_s * 1000))},
        log_format="json",
        log_level="WARNING",  # small logs: what is logged at all is worth a look
        run_dir=run_dir,
    )


@contextlib.asynccontextmanager
async def running_stack(
    config: StackConfig, exit_codes: dict[str, int | None] | None = None
) -> AsyncIterator[Stack]:
    """Start the suite (blocking: nothing else runs yet) and stop it on any exit.

    Ctrl-C cancels the main task; the cancellation lands here and the stack still stops.
    The services' exit codes go into `exit_codes` when given.
    """
    stack = Stack(config)
    try:
        log.info("starting the stack in %s", stack.run_dir)
        stack.start()
        yield stack
    finally:
        codes = stack.stop()
        if exit_codes is not None:
            exit_codes.update(codes)
        unclean = {name: code for name, code in codes.items() if code not in (0, None)}
        if unclean:
            log.warning("services exited uncleanly: %s", unclean)


def log_digest(stack: Stack) -> dict[str, Any]:
    """Per service: exit-independent counts of WARNING+ lines by message, a few samples."""
    return {service.name: _digest(service.log_path) for service in stack.services}


def _digest(path: Path) -> dict[str, Any]:
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    samples: list[str] = []
    for line in _lines(path):
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict):  # a traceback or print outside the logger
            levels["UNSTRUCTURED"] += 1
            if len(samples) < MAX_SAMPLES:
                samples.append(line[:300])
            continue
        level = str(entry.get("level", "?"))
        levels[level] += 1
        messages[f"{level} {entry.get('logger', '?')}: {entry.get('msg', '')}"[:160]] += 1
        if level in ("ERROR", "CRITICAL") and len(samples) < MAX_SAMPLES:
            samples.append(line[:500])
    return {
        "levels": dict(levels),
        "top_messages": dict(messages.most_common(8)),
        "samples": samples,
    }


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open("rb") as stream:
            for raw in stream.read(MAX_LOG_BYTES).splitlines():
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    yield line
    except OSError:
        return


def error_counts(digest: dict[str, Any]) -> dict[str, int]:
    """ERROR (and worse, and unstructured) log lines per service, where there are any."""
    bad = ("ERROR", "CRITICAL", "UNSTRUCTURED")
    counts = {
        name: sum(int(entry["levels"].get(level, 0)) for level in bad)
        for name, entry in digest.items()
    }
    return {name: count for name, count in counts.items() if count}
