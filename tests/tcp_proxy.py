"""A TCP proxy on loopback that a test can cut or stall: real network faults between
two services (the bytes are forwarded untouched; gRPC sees a broken or a silent link)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

CHUNK = 64 * 1024


@dataclass
class _Pipe:
    """One direction of one proxied connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    direction: str


@dataclass
class TcpProxy:
    """Listens on a free loopback port and forwards every connection to `target_port`.

    `up` is client -> target, `down` target -> client."""

    target_port: int = 0
    port: int = 0
    forwarded: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    _server: asyncio.Server | None = None
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _cut_at: dict[str, int] = field(default_factory=dict)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    cuts: int = 0

    async def start(self) -> TcpProxy:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut_after(self, direction: str, more_bytes: int) -> None:
        """Break every connection once `more_bytes` more went `direction` (mid-frame)."""
        self._cut_at[direction] = self.forwarded[direction] + more_bytes

    def cut(self) -> None:
        """Break every connection now (a reset, as a dead peer or a broken path)."""
        self.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        """Stop forwarding (the bytes wait): a link that hangs without breaking."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, target_writer})
        for pipe in (
            _Pipe(reader, target_writer, "up"),
            _Pipe(target_reader, writer, "down"),
        ):
            task = asyncio.create_task(self._pump(pipe))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, pipe: _Pipe) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                data = await pipe.reader.read(CHUNK)
                if not data:
                    break
                await self._flowing.wait()
                limit = self._cut_at.get(pipe.direction)
                sent = self.forwarded[pipe.direction]
                if limit is not None and sent + len(data) >= limit:
                    pipe.writer.write(data[: max(0, limit - sent)])
                    del self._cut_at[pipe.direction]
                    self.cut()
                    return
                self.forwarded[pipe.direction] = sent + len(data)
                pipe.writer.write(data)
                await pipe.writer.drain()
        with contextlib.suppress(Exception):
            pipe.writer.close()
