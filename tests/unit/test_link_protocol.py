"""The link protocol (lingua_common/link.py) between two in-memory ends: sequence
numbers, acknowledgements (a handled prefix plus each message handled beyond it),
batching, resend after a cut, retries of a handler that failed, and the bound on what
is in flight. (The same code over real gRPC, with real cuts, is
tests/services/test_link_faults.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from lingua_common.link import (
    LinkLimits,
    LinkStream,
    MessageQueue,
    Outgoing,
    ReceiveWindow,
    SendWindow,
)


@dataclass
class Message:
    body: str
    seq: int = 0


@dataclass
class Frame:
    messages: list[Message]
    ack: int
    acked: list[int]


class Codec:
    def batch(self, messages: Sequence[Message], ack: int, acked: Sequence[int]) -> Frame:
        # A copy on the wire: the sender's objects are not the receiver's.
        return Frame([Message(m.body, m.seq) for m in messages], ack, list(acked))

    def unpack(self, frame: Frame) -> tuple[list[Message], int, Sequence[int]]:
        return frame.messages, frame.ack, frame.acked

    def stamp(self, message: Message, seq: int) -> None:
        message.seq = seq

    def seq_of(self, message: Message) -> int:
        return message.seq


class Wire:
    """One direction of a connection; `cut_after` frames, it breaks (both ends see it)."""

    def __init__(self, cut_after: int | None = None) -> None:
        self.frames: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.cut_after = cut_after
        self.sent = 0

    async def write(self, frame: Frame) -> None:
        if self.cut_after is not None and self.sent >= self.cut_after:
            self.frames.put_nowait(None)
            raise ConnectionResetError("cut")
        self.sent += 1
        self.frames.put_nowait(frame)

    async def read(self) -> Frame | None:
        return await self.frames.get()


@dataclass
class End:
    queue: MessageQueue[Message] = field(default_factory=lambda: MessageQueue(10_000, 10**9))
    handled: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    failures: int = 0

    def send(self, body: str) -> None:
        self.queue.put(Outgoing(Message(body), on_ack=lambda: self.acked.append(body)))

    async def handle(self, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("store away")
        self.handled.append(message.body)


LIMITS = LinkLimits(max_batch=8, max_unacked=64, max_handling=16, ack_delay_s=0.001)


async def connect(a: End, b: End, *, a_to_b: Wire, b_to_a: Wire, limits: LinkLimits = LIMITS):
    """Run one stream between the two ends until either side's wire breaks."""
    sa = LinkStream(a.queue, a.handle, Codec(), limits, "a")
    sb = LinkStream(b.queue, b.handle, Codec(), limits, "b")
    results = await asyncio.gather(
        sa.run(b_to_a.read, a_to_b.write), sb.run(a_to_b.read, b_to_a.write), return_exceptions=True
    )
    return results


async def until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.005)


def test_a_send_window_acknowledges_a_prefix_and_single_messages_and_gives_back_the_rest() -> None:
    window: SendWindow[str] = SendWindow()
    items = [Outgoing(f"m{i}") for i in range(6)]
    assert [window.stamp(item) for item in items] == [1, 2, 3, 4, 5, 6]
    assert [i.message for i in window.ack(2)] == ["m0", "m1"]
    assert window.ack(2) == []  # an old acknowledgement again: nothing
    assert [i.message for i in window.ack(2, [5])] == ["m4"]  # handled beyond the prefix
    assert window.ack(0, [5]) == []
    assert len(window) == 3
    assert [i.message for i in window.drain()] == ["m2", "m3", "m5"]  # in their order
    assert len(window) == 0


def test_a_receive_window_names_what_was_handled_beyond_the_prefix_once() -> None:
    window = ReceiveWindow()
    assert window.handled(2)  # 1 is still being handled: 2 is named on its own
    assert window.handled(3)
    assert window.upto == 0
    assert window.report() == [2, 3]
    assert window.report() == []  # each once
    assert not window.handled(3)  # handled already
    assert window.handled(1)
    assert window.upto == 3  # the prefix covers 2 and 3 now
    assert not window.handled(2)
    assert window.handled(5) and window.handled(4)
    assert window.upto == 5
    assert window.report() == []  # the prefix names them


def test_a_message_queue_is_bounded_and_takes_back_what_was_not_acknowledged_first() -> None:
    queue: MessageQueue[str] = MessageQueue(max_items=3, max_bytes=100)
    assert queue.put(Outgoing("a", size=10)) and queue.put(Outgoing("b", size=10))
    assert not queue.put(Outgoing("big", size=95))  # over the byte bound: refused alone
    assert queue.put(Outgoing("c", size=10))
    assert not queue.put(Outgoing("d"))  # over the count bound
    taken = queue.take(2)
    assert [i.message for i in taken] == ["a", "b"]
    queue.put_back(taken)  # a stream broke before they were acknowledged
    assert [i.message for i in queue.take(10)] == ["a", "b", "c"]
    assert queue.bytes == 0


async def test_every_message_is_handled_and_acknowledged_once_in_both_directions() -> None:
    a, b = End(), End()
    for i in range(100):
        a.send(f"a{i}")
        b.send(f"b{i}")
    a_to_b, b_to_a = Wire(), Wire()
    link = asyncio.create_task(connect(a, b, a_to_b=a_to_b, b_to_a=b_to_a))
    await until(lambda: len(a.acked) == 100 and len(b.acked) == 100)
    link.cancel()
    assert sorted(b.handled) == sorted(f"a{i}" for i in range(100))
    assert sorted(a.handled) == sorted(f"b{i}" for i in range(100))
    assert sorted(a.acked) == sorted(f"a{i}" for i in range(100))
    # Batched: far fewer frames than messages (each side sends its messages and acks).
    assert a_to_b.sent < 60 and b_to_a.sent < 60


@pytest.mark.parametrize("cut_after", [1, 2, 5])
async def test_a_cut_mid_stream_loses_nothing_and_acknowledges_each_message_once(
    cut_after: int,
) -> None:
    a, b = End(), End()
    for i in range(50):
        a.send(f"m{i}")
    # The first stream breaks after a few frames from a; a second one finishes the job.
    await connect(a, b, a_to_b=Wire(cut_after=cut_after), b_to_a=Wire())
    assert len(a.acked) < 50  # the cut came before everything was acknowledged
    link = asyncio.create_task(connect(a, b, a_to_b=Wire(), b_to_a=Wire()))
    await until(lambda: len(a.acked) == 50)
    link.cancel()
    assert sorted(a.acked) == sorted(f"m{i}" for i in range(50))  # each once
    # Handled at least once each; a copy handled twice is what idempotency is for.
    assert set(b.handled) == {f"m{i}" for i in range(50)}


async def test_a_cut_of_the_acknowledgements_resends_what_was_handled_already() -> None:
    a, b = End(), End()
    for i in range(10):
        a.send(f"m{i}")
    # b handles everything, but its acknowledgements never get through.
    await connect(a, b, a_to_b=Wire(), b_to_a=Wire(cut_after=0))
    assert a.acked == [] and len(a.queue) == 10  # all back in line
    link = asyncio.create_task(connect(a, b, a_to_b=Wire(), b_to_a=Wire()))
    await until(lambda: len(a.acked) == 10)
    link.cancel()
    assert sorted(a.acked) == sorted(f"m{i}" for i in range(10))


async def test_a_failing_handler_is_tried_again_and_acknowledged_only_once_it_worked() -> None:
    a, b = End(), End()
    b.failures = 3
    a.send("m0")
    link = asyncio.create_task(connect(a, b, a_to_b=Wire(), b_to_a=Wire()))
    await until(lambda: a.acked == ["m0"])
    link.cancel()
    assert b.handled == ["m0"]


async def test_no_more_than_the_window_is_unacknowledged_at_once() -> None:
    a, b = End(), End()
    blocked = asyncio.Event()

    async def slow(message: Message) -> None:
        await blocked.wait()
        b.handled.append(message.body)

    b.handle = slow  # type: ignore[method-assign]
    for i in range(200):
        a.send(f"m{i}")
    limits = LinkLimits(max_batch=8, max_unacked=32, max_handling=1000, ack_delay_s=0.001)
    a_to_b = Wire()
    link = asyncio.create_task(connect(a, b, a_to_b=a_to_b, b_to_a=Wire(), limits=limits))
    await until(lambda: len(a.queue) == 200 - 32)
    await asyncio.sleep(0.05)
    assert len(a.queue) == 200 - 32  # the rest waits for acknowledgements
    blocked.set()
    await until(lambda: len(a.acked) == 200)
    link.cancel()


async def test_a_slow_handler_holds_back_the_acknowledgement_of_no_other_message() -> None:
    a, b = End(), End()
    release = asyncio.Event()

    async def handle(message: Message) -> None:
        if message.body == "slow":
            await release.wait()  # e.g. a result tried again until its job exists
        b.handled.append(message.body)

    b.handle = handle  # type: ignore[method-assign]
    a.send("slow")
    for i in range(20):
        a.send(f"m{i}")
    link = asyncio.create_task(connect(a, b, a_to_b=Wire(), b_to_a=Wire()))
    await until(lambda: len(a.acked) == 20)
    assert "slow" not in a.acked
    release.set()
    await until(lambda: a.acked[-1:] == ["slow"])
    link.cancel()
    assert sorted(a.acked) == sorted(["slow", *(f"m{i}" for i in range(20))])


async def test_a_cut_while_a_message_is_still_handled_resends_only_that_one() -> None:
    a, b = End(), End()
    stuck = asyncio.Event()

    async def handle(message: Message) -> None:
        if message.body == "slow" and not stuck.is_set():
            stuck.set()
            await asyncio.Event().wait()  # never done on this stream
        b.handled.append(message.body)

    b.handle = handle  # type: ignore[method-assign]
    a.send("slow")
    for i in range(5):
        a.send(f"m{i}")
    a_to_b, b_to_a = Wire(), Wire()
    first = asyncio.create_task(connect(a, b, a_to_b=a_to_b, b_to_a=b_to_a))
    await until(lambda: len(a.acked) == 5)
    # The stream breaks: only the message never handled goes back in line.
    b_to_a.frames.put_nowait(None)
    a_to_b.frames.put_nowait(None)
    await first
    assert [item.message.body for item in a.queue.take(10)] == ["slow"]
