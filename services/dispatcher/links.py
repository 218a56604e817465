"""The gateways linked to this replica: what waits for each of them, and their streams.

Each gateway has one outbox here, which outlives its streams: what could not be sent or
was not acknowledged when a stream broke goes out on its next one. An outbox is bounded;
when it is full a delivery is refused (the caller has a durable fallback: a job's timer
in Redis brings a replica back to deliver again). The outbox of a gateway that stays
away and is no longer advertised in Redis is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua_common.link import LinkLimits, MessageQueue, Outgoing


class DispatcherCodec:
    """Frames of the dispatcher's end of a link."""

    def batch(
        self, messages: Sequence[link_pb.DispatcherMessage], ack: int, acked: Sequence[int]
    ) -> link_pb.LinkResponse:
        return link_pb.LinkResponse(
            batch=link_pb.DispatcherBatch(messages=messages, ack=ack, acked=acked)
        )

    def unpack(
        self, frame: link_pb.LinkRequest
    ) -> tuple[list[link_pb.GatewayMessage], int, Sequence[int]]:
        if frame.WhichOneof("frame") != "batch":
            raise LinkProtocolError("a hello in the middle of a stream")
        return list(frame.batch.messages), frame.batch.ack, frame.batch.acked

    def stamp(self, message: link_pb.DispatcherMessage, seq: int) -> None:
        message.seq = seq

    def seq_of(self, message: link_pb.GatewayMessage) -> int:
        return message.seq


class LinkProtocolError(Exception):
    """The peer broke the link protocol: the stream ends with INVALID_ARGUMENT."""


class GatewayLinks:
    def __init__(self, limits: LinkLimits, outbox_items: int, outbox_bytes: int) -> None:
        self.limits = limits
        self._outbox_items = outbox_items
        self._outbox_bytes = outbox_bytes
        self._outboxes: dict[str, MessageQueue[link_pb.DispatcherMessage]] = {}
        self._streams: dict[str, int] = {}
        self._away_since: dict[str, float] = {}

    def outbox(self, gateway_id: str) -> MessageQueue[link_pb.DispatcherMessage]:
        queue = self._outboxes.get(gateway_id)
        if queue is None:
            queue = MessageQueue(self._outbox_items, self._outbox_bytes)
            self._outboxes[gateway_id] = queue
            if gateway_id not in self._streams:
                self._away_since.setdefault(gateway_id, time.monotonic())
        return queue

    def send(
        self,
        gateway_id: str,
        message: link_pb.DispatcherMessage,
        *,
        on_ack: Callable[[], None] | None = None,
        tracked: bool = True,
        size: int = 0,
    ) -> bool:
        """Queue a message for a gateway; False when its outbox is full."""
        item = Outgoing(message, on_ack=on_ack, tracked=tracked, size=size)
        return self.outbox(gateway_id).put(item)

    def attached(self, gateway_id: str) -> MessageQueue[link_pb.DispatcherMessage]:
        """A stream from this gateway opened: its outbox, to take from."""
        self._streams[gateway_id] = self._streams.get(gateway_id, 0) + 1
        self._away_since.pop(gateway_id, None)
        return self.outbox(gateway_id)  # not "away": it has a stream

    def detached(self, gateway_id: str) -> None:
        left = self._streams.get(gateway_id, 0) - 1
        if left > 0:
            self._streams[gateway_id] = left
            return
        self._streams.pop(gateway_id, None)
        self._away_since[gateway_id] = time.monotonic()

    def is_linked(self, gateway_id: str) -> bool:
        return gateway_id in self._streams

    def away_longer_than(self, seconds: float) -> list[str]:
        """Gateways with an outbox here and no stream for this long."""
        now = time.monotonic()
        return [
            g
            for g, since in self._away_since.items()
            if now - since >= seconds and g not in self._streams
        ]

    def drop(self, gateway_id: str) -> int:
        """Forget a gateway that is gone for good; returns how many messages it had.
        Never a linked one: its streams take from that very outbox."""
        if gateway_id in self._streams:
            return 0
        self._away_since.pop(gateway_id, None)
        queue = self._outboxes.pop(gateway_id, None)
        return len(queue.drop()) if queue is not None else 0

    def waiting(self) -> int:
        """Messages queued for every gateway (a metric)."""
        return sum(len(queue) for queue in self._outboxes.values())
