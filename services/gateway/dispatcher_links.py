"""The gateway's end of the job path: one link to each dispatcher replica.

Dispatcher replicas advertise themselves in Redis; this keeps one stream open to each
(LINGUA_DISPATCHER_ADDRESS when none is advertised). New jobs and node reports wait in
one bounded queue that every link takes from, so work spreads over the dispatchers that
keep up, and what a broken stream never saw acknowledged goes out again on whichever
link takes it next. Node membership (which node sockets this replica holds) goes to
every link: in full in each stream's hello, then as changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2_grpc as link_grpc
from lingua_common.cancellation import reraise_if_cancelling
from lingua_common.channels import insecure_channel
from lingua_common.link import STREAM_END, LinkLimits, LinkStream, MessageQueue, Outgoing

logger = logging.getLogger(__name__)

RECONNECT_INITIAL_S = 0.1
RECONNECT_MAX_S = 2.0
HELLO_TIMEOUT_S = 5.0


class GatewayCodec:
    """Frames of the gateway's end of a link."""

    def batch(
        self, messages: Sequence[link_pb.GatewayMessage], ack: int, acked: Sequence[int]
    ) -> link_pb.LinkRequest:
        return link_pb.LinkRequest(
            batch=link_pb.GatewayBatch(messages=messages, ack=ack, acked=acked)
        )

    def unpack(
        self, frame: link_pb.LinkResponse
    ) -> tuple[list[link_pb.DispatcherMessage], int, Sequence[int]]:
        if frame.WhichOneof("frame") != "batch":
            return [], 0, ()
        return list(frame.batch.messages), frame.batch.ack, frame.batch.acked

    def stamp(self, message: link_pb.GatewayMessage, seq: int) -> None:
        message.seq = seq

    def seq_of(self, message: link_pb.DispatcherMessage) -> int:
        return message.seq


@dataclass(frozen=True)
class LinkSettings:
    gateway_id: str
    # Used when no dispatcher replica is advertised in Redis.
    fallback_address: str
    queue_items: int = 20_000
    queue_bytes: int = 256 * 1024 * 1024
    discovery_interval_s: float = 1.0
    # The service credential the links present (api_auth.py).
    service_token: str = field(default="", repr=False)


Discover = Callable[[], Awaitable[list[str]]]
HeldNodes = Callable[[], list[tuple[str, int]]]
Handle = Callable[[link_pb.DispatcherMessage], Awaitable[None]]


class DispatcherLinks:
    def __init__(
        self,
        settings: LinkSettings,
        discover: Discover,
        held_nodes: HeldNodes,
        handle: Handle,
        limits: LinkLimits | None = None,
    ) -> None:
        self._settings = settings
        self._discover = discover
        self._held_nodes = held_nodes
        self._handle = handle
        self._limits = limits or LinkLimits()
        self.queue: MessageQueue[link_pb.GatewayMessage] = MessageQueue(
            settings.queue_items, settings.queue_bytes
        )
        self._links: dict[str, asyncio.Task[None]] = {}
        self._streams: set[
            LinkStream[
                link_pb.GatewayMessage,
                link_pb.LinkRequest,
                link_pb.LinkResponse,
                link_pb.DispatcherMessage,
            ]
        ] = set()
        self._wanted: set[str] = set()

    # --- what the gateway sends ------------------------------------------------------------

    def new_job(self, request_id: str, spec: job_pb2.JobSpec, trace_id: str, parent: str) -> bool:
        """Queue a finalized utterance; False when the queue is full (the caller refuses
        the utterance: nothing was accepted)."""
        message = link_pb.GatewayMessage(
            traceparent=parent,
            new_job=link_pb.NewJob(request_id=request_id, spec=spec, trace_id=trace_id),
        )
        return self.queue.put(Outgoing(message, size=len(spec.audio)))

    async def report(self, report: link_pb.NodeReport, parent: str, size: int = 0) -> None:
        """Queue a node's report and wait until a dispatcher has handled it: a result is
        never lost to a broken stream or a restarted replica, and a node whose reports
        pile up is not read meanwhile (its connection's bound on work under way)."""
        handled = asyncio.get_running_loop().create_future()

        def acknowledged() -> None:
            if not handled.done():
                handled.set_result(None)

        item = Outgoing(
            link_pb.GatewayMessage(traceparent=parent, report=report),
            on_ack=acknowledged,
            size=size,
        )
        await self.queue.put_waiting(item)
        await handled

    def node_held(self, node_id: str, epoch: int, since_epoch: int = 0) -> None:
        self._broadcast(
            link_pb.GatewayMessage(
                node_held=link_pb.HeldNode(node_id=node_id, epoch=epoch, since_epoch=since_epoch)
            )
        )

    def node_lost(self, node_id: str, epoch: int) -> None:
        self._broadcast(
            link_pb.GatewayMessage(node_lost=link_pb.HeldNode(node_id=node_id, epoch=epoch))
        )

    def _broadcast(self, message: link_pb.GatewayMessage) -> None:
        for stream in self._streams:
            copy = link_pb.GatewayMessage()
            copy.CopyFrom(message)
            stream.send_control(copy)

    @property
    def linked(self) -> int:
        """Streams open now (one per reachable dispatcher replica)."""
        return len(self._streams)

    # --- the links ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the advertised dispatcher replicas: a link to each, for as long as it is
        advertised or its stream is up."""
        try:
            while True:
                await self.refresh_once()
                await asyncio.sleep(self._settings.discovery_interval_s)
        finally:
            tasks = list(self._links.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def refresh_once(self) -> None:
        try:
            addresses = await self._discover()
        except Exception as error:
            reraise_if_cancelling()
            logger.warning("dispatchers not discovered", extra={"error": repr(error)[:300]})
            return  # keep the links we have
        self._wanted = set(addresses) or {self._settings.fallback_address}
        for address in self._wanted:
            if address not in self._links:
                self._links[address] = asyncio.create_task(
                    self._keep_link(address), name=f"link-{address}"
                )

    async def _keep_link(self, address: str) -> None:
        delay = RECONNECT_INITIAL_S
        channel = insecure_channel(address, token=self._settings.service_token)
        try:
            while address in self._wanted:
                opened = await self._one_stream(channel, address)
                if opened:
                    delay = RECONNECT_INITIAL_S
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
        finally:
            self._links.pop(address, None)
            await channel.close(None)

    async def _one_stream(self, channel: grpc.aio.Channel, address: str) -> bool:
        """One stream to one replica, until it ends; True when it was established."""
        call = link_grpc.GatewayLinkServiceStub(channel).Link()
        stream = LinkStream(
            self.queue, self._handle, GatewayCodec(), self._limits, f"link:{address}"
        )
        # The snapshot and joining the broadcast happen together (no await between):
        # every change after the snapshot reaches this stream, after the hello.
        hello = link_pb.LinkHello(
            gateway_id=self._settings.gateway_id,
            nodes=[link_pb.HeldNode(node_id=n, epoch=e) for n, e in self._held_nodes()],
        )
        self._streams.add(stream)

        async def read() -> link_pb.LinkResponse | None:
            frame = await call.read()
            return None if frame is STREAM_END else frame

        established = False
        try:
            await call.write(link_pb.LinkRequest(hello=hello))
            welcome = await asyncio.wait_for(call.read(), HELLO_TIMEOUT_S)
            if welcome is STREAM_END:
                return False
            established = True
            logger.info(
                "linked to dispatcher",
                extra={"address": address, "dispatcher_id": welcome.welcome.dispatcher_id},
            )
            await stream.run(read, call.write)
        except (grpc.aio.AioRpcError, TimeoutError) as error:
            reraise_if_cancelling()
            code = error.code() if isinstance(error, grpc.aio.AioRpcError) else "timeout"
            logger.log(
                logging.WARNING if established else logging.INFO,
                "dispatcher link lost" if established else "dispatcher not reachable",
                extra={"address": address, "code": str(code)},
            )
        finally:
            self._streams.discard(stream)
            call.cancel()
        return established
