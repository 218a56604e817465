"""Heavy peers in a process of their own: session sockets that send ~1 MiB frames at
the message rate the gateway allows, reading everything sent back.

A child process, so the frames it builds and masks cost its own CPU, not the event loop
of the harness that times the good client. Driven over stdin/stdout, one JSON line each:

    parent -> child  {"url": …, "sockets": …, "frame_bytes": …, "rate": …}
    child -> parent  {"open": n}
    parent -> child  "go"       (send until "stop")
    parent -> child  "stop"
    child -> parent  {"report": HeavyReport.as_dict()}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench.gateway_load import open_session

REPO = Path(__file__).resolve().parent.parent
STEP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class HeavyConfig:
    url: str  # ws://…/ws/session
    sockets: int = 4
    frame_bytes: int = 1_000_000
    rate: float = 100.0  # frames/s per socket: the default session message rate


@dataclass
class HeavyReport:
    sockets: int = 0
    seconds: float = 0.0
    frames_sent: int = 0
    replies: int = 0  # server_heartbeat: frames the gateway has read and handled
    errors: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)  # close code -> sockets

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def heavy_frame(session_id: str, size: int) -> str:
    """A valid client_heartbeat padded to `size` bytes with a field the gateway ignores
    (PROTOCOL.md: unknown fields must be ignored): all parsing, no downstream work."""
    head = {"type": "client_heartbeat", "session_id": session_id, "timestamp": 1, "pad": ""}
    bare = len(orjson.dumps(head))
    head["pad"] = "x" * max(0, size - bare)
    return orjson.dumps(head).decode()


class HeavyPeers:
    def __init__(self, config: HeavyConfig) -> None:
        self.config = config
        self._sockets: list[ClientConnection] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self.report = HeavyReport()
        self._errors: Counter[str] = Counter()
        self._closed: Counter[str] = Counter()

    async def open(self) -> int:
        self._sockets = list(
            await asyncio.gather(
                *(open_session(self.config.url) for _ in range(self.config.sockets))
            )
        )
        return len(self._sockets)

    async def run_until_stopped(self) -> HeavyReport:
        started = time.perf_counter()
        for ws in self._sockets:
            self._tasks.append(asyncio.create_task(self._send(ws)))
            self._tasks.append(asyncio.create_task(self._read(ws)))
        await self._stop.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.report.sockets = len(self._sockets)
        self.report.seconds = time.perf_counter() - started
        self.report.errors = dict(self._errors)
        self.report.closed = dict(self._closed)
        return self.report

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self._sockets), return_exceptions=True)

    async def _send(self, ws: ClientConnection) -> None:
        frame = heavy_frame(ws.session_id, self.config.frame_bytes)  # type: ignore[attr-defined]
        interval = 1.0 / self.config.rate
        next_at = time.perf_counter()
        with contextlib.suppress(ConnectionClosed):
            while True:
                # A send blocks while the gateway does not read (TCP backpressure).
                await ws.send(frame)
                self.report.frames_sent += 1
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                message = orjson.loads(raw)
                if message.get("type") == "server_heartbeat":
                    self.report.replies += 1
                elif message.get("type") == "error":
                    self._errors[str(message.get("code"))] += 1
        except ConnectionClosed as closed:
            self._closed[str(closed.rcvd.code if closed.rcvd else None)] += 1
        else:
            self._closed[str(ws.close_code)] += 1


class HeavyProcess:
    """The parent's handle on the child."""

    def __init__(self, config: HeavyConfig) -> None:
        self.config = config
        self._child: asyncio.subprocess.Process | None = None

    async def open(self) -> int:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.heavy_peers",
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return int((await self._ask(asdict(self.config)))["open"])

    async def go(self) -> None:
        await self._tell("go")

    async def stop(self) -> HeavyReport:
        reply = await self._ask("stop")
        return HeavyReport(**reply["report"])

    async def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()
            await child.wait()

    async def _tell(self, message: object) -> None:
        child = self._child
        assert child is not None and child.stdin is not None
        child.stdin.write(json.dumps(message).encode() + b"\n")
        await child.stdin.drain()

    async def _ask(self, message: object) -> dict[str, Any]:
        await self._tell(message)
        child = self._child
        assert child is not None and child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), STEP_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"heavy peers ended (exit code {await child.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply


async def _serve() -> None:
    async def read() -> Any:
        line = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), STEP_TIMEOUT_S * 10)
        if not line:
            raise SystemExit(0)  # the parent is gone
        return json.loads(line)

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    peers = HeavyPeers(HeavyConfig(**await read()))
    try:
        say({"open": await peers.open()})
        if await read() != "go":
            return
        running = asyncio.create_task(peers.run_until_stopped())
        if await read() == "stop":
            peers.stop()
        say({"report": (await running).as_dict()})
    finally:
        await peers.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve())
