"""The stream protocol of the job path, shared by both ends of a gateway <-> dispatcher link.

A link is one long-lived bidirectional gRPC stream. Each end sends batches of messages.
Every message that must not be lost carries a sequence number (per stream, from 1) and
stays in the sender's send window until the receiver acknowledges it. The receiver
acknowledges the messages it has *handled* (their effects are in Redis or on a socket),
on its own next batch or alone after a short delay: the handled prefix as one number,
plus each message handled beyond it, named once — a handler that takes long (a result
tried again until its job exists) holds back the acknowledgement of nothing else.
When a stream ends, whatever is unacknowledged goes back to its queue and is sent
again on the next stream, to whichever replica that reaches: every message is
idempotent by job id and attempt.

Batching needs no timer on the hot path: a writer sends everything queued when it wakes
(up to `max_batch`), and while a write is under way new messages queue for the next
batch. An idle link sends at once; a busy one batches by itself.

A handler that raises is tried again with backoff while the stream lasts (the message
stays unacknowledged, so the peer's bounded window applies backpressure); a handler must
therefore turn a permanent problem (bad input) into a handled outcome, and raise only for
transient ones (Redis or a peer unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import grpc

from lingua_common.background import BackgroundTasks

logger = logging.getLogger(__name__)

M = TypeVar("M")  # an outgoing message
FOut = TypeVar("FOut")  # an outgoing frame
FIn = TypeVar("FIn")  # an incoming frame
In = TypeVar("In")  # an incoming message
M_contra = TypeVar("M_contra", contravariant=True)
FOut_co = TypeVar("FOut_co", covariant=True)
FIn_contra = TypeVar("FIn_contra", contravariant=True)

# What read() of a gRPC stream returns at its end.
STREAM_END: object = grpc.aio.EOF  # type: ignore[attr-defined]

RETRY_INITIAL_S = 0.05
RETRY_MAX_S = 2.0


@dataclass(eq=False)
class Outgoing(Generic[M]):
    """One message on its way, with what to do once the peer has handled it."""

    message: M
    # Called (synchronously) once the peer acknowledged it; never for untracked ones.
    on_ack: Callable[[], None] | None = None
    # False: sent once and never acknowledged or resent (a new stream's hello repeats it).
    tracked: bool = True
    # Bytes it holds, for the queues' bounds.
    size: int = 0


class SendWindow(Generic[M]):
    """The messages of one stream that were sent and are not acknowledged yet."""

    def __init__(self) -> None:
        self._next = 1
        # In sequence order (dicts keep insertion order; sequence numbers only grow).
        self._unacked: dict[int, Outgoing[M]] = {}

    def __len__(self) -> int:
        return len(self._unacked)

    def stamp(self, item: Outgoing[M]) -> int:
        seq = self._next
        self._next += 1
        self._unacked[seq] = item
        return seq

    def ack(self, upto: int, beyond: Sequence[int] = ()) -> list[Outgoing[M]]:
        """Everything up to `upto` is handled, and each of `beyond`: those messages."""
        acked = []
        for seq in list(self._unacked):
            if seq > upto:
                break
            acked.append(self._unacked.pop(seq))
        for seq in beyond:
            item = self._unacked.pop(seq, None)
            if item is not None:
                acked.append(item)
        return acked

    def drain(self) -> list[Outgoing[M]]:
        """The stream is gone: every unacknowledged message, oldest first."""
        items = list(self._unacked.values())
        self._unacked.clear()
        return items


class ReceiveWindow:
    """Which sequence numbers of one stream are handled: the longest handled prefix, and
    those handled beyond it (the peer's window bounds how many)."""

    def __init__(self) -> None:
        self.upto = 0
        self._ahead: set[int] = set()
        # Handled beyond the prefix and not yet named in an acknowledgement.
        self._unreported: list[int] = []

    def handled(self, seq: int) -> bool:
        """Record a handled message; True when there is something new to acknowledge."""
        if seq <= self.upto or seq in self._ahead:
            return False
        if seq != self.upto + 1:
            self._ahead.add(seq)
            self._unreported.append(seq)
            return True
        self.upto = seq
        while self.upto + 1 in self._ahead:
            self.upto += 1
            self._ahead.discard(self.upto)
        return True

    @property
    def has_unreported(self) -> bool:
        return bool(self._unreported)

    def report(self) -> list[int]:
        """The messages handled beyond the prefix that no acknowledgement named yet (once
        each: the stream delivers every frame, or ends and the peer sends all again)."""
        beyond = [seq for seq in self._unreported if seq > self.upto]
        self._unreported.clear()
        return beyond


class MessageQueue(Generic[M]):
    """Messages waiting to be sent, bounded in count and bytes. Several streams may take
    from one queue (a gateway spreads its messages over every dispatcher it reaches)."""

    def __init__(self, max_items: int, max_bytes: int) -> None:
        self._items: deque[Outgoing[M]] = deque()
        self._bytes = 0
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._watchers: set[asyncio.Event] = set()
        self._room = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def has_room(self, size: int = 0) -> bool:
        return len(self._items) < self._max_items and self._bytes + size <= self._max_bytes

    def put(self, item: Outgoing[M]) -> bool:
        """Queue a message; False (and nothing queued) when the queue is full."""
        if not self.has_room(item.size):
            return False
        self._items.append(item)
        self._bytes += item.size
        self._wake()
        return True

    async def put_waiting(self, item: Outgoing[M]) -> None:
        """Queue a message, waiting while the queue is full (backpressure on the caller)."""
        while not self.put(item):
            self._room.clear()
            await self._room.wait()

    def put_back(self, items: list[Outgoing[M]]) -> None:
        """Messages a stream sent but never saw acknowledged: first in line again, in
        their order (they were admitted once, so the bounds do not refuse them now)."""
        for item in reversed(items):
            if item.tracked:
                self._items.appendleft(item)
                self._bytes += item.size
        if items:
            self._wake()

    def fair_share(self) -> int:
        """What one of the streams taking from this queue takes now: an equal part of
        what waits (every watcher is woken in the same turn, so work spreads over them
        instead of going to whichever woke first)."""
        streams = max(1, len(self._watchers))
        return -(-len(self._items) // streams)

    def take(self, limit: int) -> list[Outgoing[M]]:
        taken: list[Outgoing[M]] = []
        while self._items and len(taken) < limit:
            item = self._items.popleft()
            self._bytes -= item.size
            taken.append(item)
        if taken:
            self._room.set()
        return taken

    def drop(self) -> list[Outgoing[M]]:
        """Everything queued, removed (its destination is gone for good)."""
        return self.take(len(self._items))

    def watch(self, wake: asyncio.Event) -> None:
        self._watchers.add(wake)
        if self._items:
            wake.set()

    def unwatch(self, wake: asyncio.Event) -> None:
        self._watchers.discard(wake)

    def _wake(self) -> None:
        for wake in self._watchers:
            wake.set()


class FrameCodec(Protocol[M_contra, FOut_co, FIn_contra, In]):
    """How one end builds and reads the frames of its stream."""

    def batch(self, messages: Sequence[M_contra], ack: int, acked: Sequence[int]) -> FOut_co:
        """A frame: `ack` the handled prefix, `acked` those handled beyond it."""
        ...

    def unpack(self, frame: FIn_contra) -> tuple[list[In], int, Sequence[int]]: ...

    def stamp(self, message: M_contra, seq: int) -> None: ...

    def seq_of(self, message: In) -> int: ...


class LinkCounters:
    """Frames and messages over every link of this process, each way: how well the
    links batch (messages per frame) is what their cost per job depends on."""

    def __init__(self) -> None:
        self.frames_sent = 0
        self.frames_received = 0
        self.messages_sent = 0
        self.messages_received = 0


COUNTERS = LinkCounters()


@dataclass(frozen=True)
class LinkLimits:
    max_batch: int = 256
    # Messages sent and not acknowledged, per stream: more wait in the queue.
    max_unacked: int = 4096
    # Incoming messages being handled at once; beyond, the stream is not read.
    max_handling: int = 1024
    # An acknowledgement with nothing to carry it waits this long for a message to ride
    # on: a frame costs far more than an acknowledgement is worth. Nothing user-visible
    # waits for one (it confirms a delivery, frees memory, disarms a safety timer).
    ack_delay_s: float = 0.02


class LinkStream(Generic[M, FOut, FIn, In]):
    """One stream of a link: its writer, its reader, and the handling of what it reads."""

    def __init__(
        self,
        queue: MessageQueue[M],
        handle: Callable[[In], Awaitable[None]],
        codec: FrameCodec[M, FOut, FIn, In],
        limits: LinkLimits,
        name: str,
    ) -> None:
        self._queue = queue
        self._handle = handle
        self._codec = codec
        self._limits = limits
        self._name = name
        self._window: SendWindow[M] = SendWindow()
        self._received = ReceiveWindow()
        self._sent_ack = 0
        self._wake = asyncio.Event()
        # Untracked messages for this stream only (e.g. node membership), sent first.
        self._control: deque[Outgoing[M]] = deque()
        self._handling = asyncio.Semaphore(limits.max_handling)
        self._handlers = BackgroundTasks()
        self._open = True

    @property
    def unacked(self) -> int:
        return len(self._window)

    def send_control(self, message: M) -> None:
        self._control.append(Outgoing(message, tracked=False))
        self._wake.set()

    async def run(
        self,
        read: Callable[[], Awaitable[FIn | None]],
        write: Callable[[FOut], Awaitable[None]],
    ) -> None:
        """Until the stream ends (read returns None) or fails; then what was sent and not
        acknowledged is back in the queue."""
        self._queue.watch(self._wake)
        writer = asyncio.create_task(self._write_loop(write), name=f"{self._name}-writer")
        reader = asyncio.create_task(self._read_loop(read), name=f"{self._name}-reader")
        try:
            done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a failed write or read ends the stream with its error
        finally:
            self._open = False
            self._queue.unwatch(self._wake)
            for task in (writer, reader):
                task.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)
            self._queue.put_back(self._window.drain())

    # --- writing ---------------------------------------------------------------------------

    async def _write_loop(self, write: Callable[[FOut], Awaitable[None]]) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # what this same turn of the loop produces goes along
            while await self._send_some(write):
                pass

    async def _send_some(self, write: Callable[[FOut], Awaitable[None]]) -> bool:
        items = self._take()
        if not items:
            if self._received.upto == self._sent_ack and not self._received.has_unreported:
                return False
            # An acknowledgement alone: give a message a moment to carry it (a message
            # that comes meanwhile goes at once, the acknowledgement with it).
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._limits.ack_delay_s)
            items = self._take()
        messages = []
        for item in items:
            seq = self._window.stamp(item) if item.tracked else 0
            self._codec.stamp(item.message, seq)
            messages.append(item.message)
        ack = self._received.upto
        self._sent_ack = ack
        await write(self._codec.batch(messages, ack, self._received.report()))
        COUNTERS.frames_sent += 1
        COUNTERS.messages_sent += len(messages)
        return True

    def _take(self) -> list[Outgoing[M]]:
        limit = self._limits.max_batch
        items: list[Outgoing[M]] = []
        while self._control and len(items) < limit:
            items.append(self._control.popleft())
        room = min(limit - len(items), self._limits.max_unacked - len(self._window))
        if room > 0:
            items.extend(self._queue.take(min(room, self._queue.fair_share())))
        return items

    # --- reading ---------------------------------------------------------------------------

    async def _read_loop(self, read: Callable[[], Awaitable[FIn | None]]) -> None:
        while True:
            frame = await read()
            if frame is None:
                return
            messages, ack, acked = self._codec.unpack(frame)
            COUNTERS.frames_received += 1
            COUNTERS.messages_received += len(messages)
            if ack or acked:
                self._acknowledged(ack, acked)
            for message in messages:
                await self._handling.acquire()
                self._handlers.spawn(self._handle_one(message))

    def _acknowledged(self, upto: int, beyond: Sequence[int]) -> None:
        acked = self._window.ack(upto, beyond)
        for item in acked:
            if item.on_ack is not None:
                try:
                    item.on_ack()
                except Exception:
                    logger.exception("acknowledgement follow-up failed", extra={"link": self._name})
        if acked:
            self._wake.set()  # room in the window

    async def _handle_one(self, message: In) -> None:
        delay = RETRY_INITIAL_S
        try:
            while True:
                try:
                    await self._handle(message)
                    break
                except Exception as error:
                    if not self._open:
                        return  # the peer sends it again on its next stream
                    logger.warning(
                        "link message not handled; trying again",
                        extra={"link": self._name, "error": repr(error)[:300]},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    if not self._open:
                        return
            seq = self._codec.seq_of(message)
            if seq and self._received.handled(seq):
                self._wake.set()
        finally:
            self._handling.release()
