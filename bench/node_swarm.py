"""Thousands of simulated GPU nodes in one process, over real WebSockets (/ws/node).

Lighter than the fleet's FakeNode (no job handling, no reconnects, no schema checks):
per node one socket and one reader task; every heartbeat of every node is sent by one
scheduler (bench.beat_scheduler), so the total rate is exact and evenly spread. The
messages are the fleet's (tools.fleet.node_caps), so they are what a real agent sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.node_mix import NodePairs
from tools.fleet import node_caps
from tools.fleet.wire import NODE_PATH, decode, encode, endpoint_url, now_ms, open_ws

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
REGISTER_TIMEOUT_S = 10.0
CLOSE_CONCURRENCY = 500
SENDS_KEPT = 4  # a node's last heartbeat send times (wall ms), newest last
MAX_INFLIGHT_WHEN_PACED = 200


class RegisterFailedError(Exception):
    pass


@dataclass(slots=True, eq=False)
class SwarmNode:
    index: int
    url: str
    pairs: NodePairs
    ws: ClientConnection | None = None
    reader: asyncio.Task[None] | None = None
    ack: asyncio.Future[str] | None = None
    node_id: str = ""
    closed: bool = False
    beats: int = 0
    sends_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    other_messages: int = 0


@dataclass
class PhaseReport:
    """One phase over many nodes: per-node latencies (s), failures by kind, wall time."""

    attempted: int = 0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies)

    @property
    def per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Swarm:
    def __init__(
        self, urls: Sequence[str], mix: Sequence[NodePairs], token: str | None = None
    ) -> None:
        if not urls:
            raise ValueError("at least one gateway URL is needed")
        query = {"token": token}
        self.nodes = [
            SwarmNode(i, endpoint_url(urls[i % len(urls)], NODE_PATH, query), pairs)
            for i, pairs in enumerate(mix)
        ]
        self._register_frames: dict[NodePairs, str] = {}

    # --- connecting -----------------------------------------------------------------------

    async def connect(self, nodes: Sequence[SwarmNode], concurrency: int) -> PhaseReport:
        """Open the nodes' WebSockets, at most `concurrency` handshakes at a time."""
        return await _over(nodes, concurrency, self._connect_one)

    async def _connect_one(self, node: SwarmNode) -> None:
        ws = await open_ws(node.url, OPEN_TIMEOUT_S)
        node.ws = ws
        node.reader = asyncio.create_task(self._read(node), name=f"swarm-{node.index}")

    async def _read(self, node: SwarmNode) -> None:
        assert node.ws is not None
        try:
            async for frame in node.ws:
                message = decode(frame)
                if message is None:
                    node.errors["undecodable"] += 1
                    continue
                self._on_message(node, message)
        except ConnectionClosed:
            pass
        finally:
            node.closed = True
            if node.ack is not None and not node.ack.done():
                node.ack.set_exception(RegisterFailedError("closed before node_register_ack"))

    def _on_message(self, node: SwarmNode, message: dict[str, object]) -> None:
        kind = message["type"]
        pending = node.ack is not None and not node.ack.done()
        if kind == "node_register_ack" and pending and isinstance(message.get("node_id"), str):
            assert node.ack is not None
            node.ack.set_result(str(message["node_id"]))
        elif kind == "error":
            code = str(message.get("code"))
            node.errors[code] += 1
            if pending:
                assert node.ack is not None
                node.ack.set_exception(RegisterFailedError(f"{code}: {message.get('message')}"))
            else:
                log.warning("node %d: server error %s: %.200s", node.index, code, message)
        else:
            node.other_messages += 1

    # --- registering ----------------------------------------------------------------------

    async def register(
        self,
        nodes: Sequence[SwarmNode],
        concurrency: int,
        on_registered: Callable[[SwarmNode], Awaitable[None]],
    ) -> PhaseReport:
        """Register the (connected) nodes, at most `concurrency` outstanding at a time;
        `on_registered` runs after each ack (outside the timed part)."""
        return await _over(nodes, concurrency, self._register_one, on_registered)

    async def register_paced(
        self,
        nodes: Sequence[SwarmNode],
        rate: float,
        on_registered: Callable[[SwarmNode], Awaitable[None]],
    ) -> PhaseReport:
        """Register the nodes on a fixed schedule (open loop): one every 1/rate s."""
        report = PhaseReport(attempted=len(nodes))
        gate = asyncio.Semaphore(MAX_INFLIGHT_WHEN_PACED)
        started = time.perf_counter()

        async def one(node: SwarmNode) -> None:
            async with gate:
                ok = await _timed(report, self._register_one(node))
            if ok:
                await on_registered(node)

        async with asyncio.TaskGroup() as group:
            for k, node in enumerate(nodes):
                delay = started + k / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                group.create_task(one(node))
        report.elapsed_s = time.perf_counter() - started
        return report

    async def _register_one(self, node: SwarmNode) -> None:
        if node.ws is None or node.closed:
            raise RegisterFailedError("not connected")
        frame = self._register_frames.get(node.pairs)
        if frame is None:
            frame = encode(node_caps.register_message(node.pairs, None))
            self._register_frames[node.pairs] = frame
        node.ack = asyncio.get_running_loop().create_future()
        await node.ws.send(frame)
        async with asyncio.timeout(REGISTER_TIMEOUT_S):
            node.node_id = await node.ack

    # --- heartbeats -----------------------------------------------------------------------

    async def beat(self, node: SwarmNode) -> bool:
        """Send one node_heartbeat; False when the socket is gone."""
        if node.ws is None or node.closed or not node.node_id:
            return False
        message = node_caps.heartbeat_message(node.node_id, now_ms(), 0, 4)
        sent_ms = time.time() * 1000.0
        try:
            await node.ws.send(encode(message))
        except ConnectionClosed:
            node.closed = True
            return False
        node.beats += 1
        node.sends_ms.append(sent_ms)
        if len(node.sends_ms) > SENDS_KEPT:
            del node.sends_ms[0]
        return True

    # --- the end --------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every socket (bounded concurrency) and end every reader task."""
        gate = asyncio.Semaphore(CLOSE_CONCURRENCY)

        async def one(node: SwarmNode) -> None:
            if node.ws is None:
                return
            async with gate:
                with contextlib.suppress(Exception):
                    await node.ws.close()

        await asyncio.gather(*(one(n) for n in self.nodes), return_exceptions=True)
        readers = [n.reader for n in self.nodes if n.reader is not None]
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)

    def abort(self) -> None:
        """Drop every socket at once, no closing handshake (for an error path)."""
        for node in self.nodes:
            if node.ws is not None:
                with contextlib.suppress(Exception):
                    node.ws.transport.abort()
            if node.reader is not None:
                node.reader.cancel()

    # --- what happened --------------------------------------------------------------------

    def registered(self) -> list[SwarmNode]:
        return [n for n in self.nodes if n.node_id]

    def lost(self) -> int:
        return sum(1 for n in self.nodes if n.node_id and n.closed)

    def error_codes(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for node in self.nodes:
            total.update(node.errors)
        return dict(total)

    def other_messages(self) -> int:
        return sum(n.other_messages for n in self.nodes)


_FAILURES = (
    OSError,
    TimeoutError,
    InvalidHandshake,
    ConnectionClosed,
    RegisterFailedError,
)


async def _timed(report: PhaseReport, work: Awaitable[None]) -> bool:
    started = time.perf_counter()
    try:
        await work
    except _FAILURES as exc:
        report.failures[type(exc).__name__] += 1
        log.debug("phase step failed: %r", exc)
        return False
    report.latencies.append(time.perf_counter() - started)
    return True


async def _over(
    nodes: Sequence[SwarmNode],
    concurrency: int,
    work: Callable[[SwarmNode], Awaitable[None]],
    then: Callable[[SwarmNode], Awaitable[None]] | None = None,
) -> PhaseReport:
    """Time `work` for every node, `concurrency` workers pulling from one queue; `then`
    (untimed) follows each success."""
    report = PhaseReport(attempted=len(nodes))
    queue = iter(nodes)
    started = time.perf_counter()

    async def worker() -> None:
        for node in queue:
            if await _timed(report, work(node)) and then is not None:
                await then(node)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(nodes)))):
            group.create_task(worker())
    report.elapsed_s = time.perf_counter() - started
    return report
