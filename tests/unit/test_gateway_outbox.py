"""Outbox: ordered sends, bounded in messages and bytes, no task while idle, and
"delivered" only once written to an open socket."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosedError

from services.gateway.outbox import Outbox


class FakeWs:
    """Records what was sent; can be held (a slow reader) or closed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.gone = False
        self.closed_with: tuple[int, str] | None = None

    async def send(self, data: bytes, text: bool = True) -> None:
        await self.open.wait()
        if self.gone:
            raise ConnectionClosedError(None, None)
        self.sent.append(orjson.loads(data))

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)


def outbox(ws: FakeWs, limit: int = 8, max_bytes: int = 10_000) -> Outbox:
    return Outbox(cast(Connection, ws), limit, max_bytes)


async def test_messages_go_out_in_order_and_an_idle_outbox_has_no_task() -> None:
    ws = FakeWs()
    box = outbox(ws)
    assert box._writer is None
    for n in range(5):
        assert box.send({"n": n})
    assert await box.send_and_wait({"n": 5})
    assert [m["n"] for m in ws.sent] == list(range(6))
    await asyncio.sleep(0)
    assert box._writer is None and box.queued_bytes == 0
    assert box.send({"n": 6})  # a new burst starts a new writer, still in order
    await box.drain(1)
    assert [m["n"] for m in ws.sent] == list(range(7))


async def test_a_slow_reader_overflows_by_count_and_is_closed_1008() -> None:
    ws = FakeWs()
    ws.open.clear()
    box = outbox(ws, limit=3)
    waiting = asyncio.ensure_future(box.send_and_wait({"n": 0}))
    for _ in range(3):
        await asyncio.sleep(0)  # the writer takes message 0 and is stuck in send
    assert box.queued_bytes == 0
    assert all(box.send({"n": n}) for n in range(1, 4))
    assert not box.send({"n": 4})
    assert box.closed and not box.send({"n": 5})
    await asyncio.sleep(0)
    assert ws.closed_with == (1008, "send queue overflow")
    await box.close()
    assert await waiting is False


async def test_the_byte_budget_bounds_the_queue_but_one_big_message_may_go_alone() -> None:
    ws = FakeWs()
    ws.open.clear()
    box = outbox(ws, limit=100, max_bytes=1000)
    assert box.send({"big": "x" * 5000})  # alone: allowed
    await asyncio.sleep(0)  # taken by the writer
    assert box.queued_bytes == 0
    assert box.send({"a": "y" * 400}) and box.send({"b": "y" * 400})
    assert not box.send({"c": "y" * 400})  # over 1000 queued bytes
    assert box.closed
    await box.close()


async def test_delivery_to_a_closed_socket_is_not_delivered() -> None:
    ws = FakeWs()
    ws.gone = True
    box = outbox(ws)
    assert await box.send_and_wait({"n": 1}) is False
    assert box.closed and not box.send({"n": 2})
