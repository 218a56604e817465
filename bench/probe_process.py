"""The heartbeat probe in a process of its own.

The registry's real callers (the gateways) are processes of their own; a probe inside
the harness would also time the harness's event loop, busy with 10,000 simulated
nodes. The parent drives the child over stdin/stdout, one JSON object per line:

    parent -> child  {"address": …, "nodes": …, "rate": …, "duration_s": …}
    child -> parent  {"registered": n}
    parent -> child  "measure"
    child -> parent  {"report": ProbeReport.as_dict()}
    parent -> child  "finish"
    child -> parent  {"errors": {…}}

Every wait on the other side is bounded; the child exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import sys
from pathlib import Path
from typing import Any

from bench.heartbeat_probe import HeartbeatProbe, ProbeConfig, ProbeReport
from tools.fleet.metrics import LatencySummary

REPO = Path(__file__).resolve().parent.parent
STEP_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 5.0


class ProbeProcess:
    """HeartbeatProbe's open / measure / finish / close, run by a child process."""

    def __init__(self, config: ProbeConfig) -> None:
        self.config = config
        self._child: asyncio.subprocess.Process | None = None
        self.registered = 0
        self.errors: dict[str, int] = {}

    async def open(self) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.probe_process",
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        reply = await self._ask(dataclasses.asdict(self.config), STEP_TIMEOUT_S)
        self.registered = int(reply["registered"])

    async def measure(self) -> ProbeReport:
        reply = await self._ask("measure", self.config.duration_s + STEP_TIMEOUT_S)
        return _report_of(reply["report"])

    async def finish(self) -> None:
        reply = await self._ask("finish", STEP_TIMEOUT_S)
        self.errors = dict(reply["errors"])
        self.registered = 0

    async def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), EXIT_TIMEOUT_S)
        except TimeoutError:
            child.kill()
            await child.wait()

    async def _ask(self, message: object, timeout_s: float) -> dict[str, Any]:
        child = self._child
        assert child is not None and child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(message).encode() + b"\n")
        await child.stdin.drain()
        line = await asyncio.wait_for(child.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"probe process ended (exit code {await child.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply


def _report_of(data: dict[str, Any]) -> ProbeReport:
    return ProbeReport(
        registered=data["registered"],
        planned=data["planned"],
        completed=data["completed"],
        skipped=data["skipped"],
        errors=data["errors"],
        achieved_rate=data["achieved_rate"],
        register=LatencySummary(**data["register"]),
        heartbeat=LatencySummary(**data["heartbeat"]),
        slow_calls=[(at, ms) for at, ms in data["slow_calls"]],
    )


async def _serve() -> None:
    async def read() -> Any:
        line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), STEP_TIMEOUT_S * 10)
        if not line:
            raise SystemExit(0)  # the parent is gone
        return json.loads(line)

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    probe = HeartbeatProbe(ProbeConfig(**await read()))
    try:
        await probe.open()
        gc.collect()
        gc.freeze()
        say({"registered": probe.registered})
        if await read() != "measure":
            return
        say({"report": (await probe.measure()).as_dict()})
        if await read() != "finish":
            return
        await probe.finish()
        say({"errors": probe.errors})
    finally:
        await probe.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())
