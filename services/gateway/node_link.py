"""One node's WebSocket (/ws/node): registration, heartbeats, job progress and results."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import grpc
from websockets.asyncio.connection import Connection

from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common.errors import wire_code_of
from services.gateway.context import GatewayContext
from services.gateway.outbox import Outbox
from services.gateway.wire import node_in, out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)

CLOSE_SUPERSEDED = 4001
CLOSE_REREGISTER = 4002
# Results and progress reports of one node that may be under way at once.
MAX_NODE_TASKS = 256

STATUS_NAMES = {1: "registering", 2: "ready", 3: "degraded", 4: "draining", 5: "offline"}


class NodeLink:
    def __init__(self, ws: Connection, ctx: GatewayContext) -> None:
        self.ws = ws
        self.ctx = ctx
        self.outbox = Outbox(ws, ctx.settings.limits.send_queue)
        self.node_id = ""
        self.epoch = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._beat_in_flight = False
        self._next_beat: node_in.NodeHeartbeat | None = None
        self._close_task: asyncio.Task[None] | None = None

    async def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "node_register":
            await self._register(node_in.parse_node_register(msg))
            return
        if not self.node_id:
            raise WireError(f"'{kind}' before node_register: register first")
        if kind == "node_heartbeat":
            beat = node_in.parse_node_heartbeat(msg)
            self._check_node_id(beat.node_id)
            self._queue_beat(beat)
        elif kind == "job_result":
            result = node_in.parse_job_result(msg)
            self._check_node_id(result.node_id)
            self._spawn(self._complete(result))
        elif kind in ("job_ack", "job_started"):
            progress = node_in.parse_job_progress(msg)
            self._check_node_id(progress.node_id)
            event = (
                dispatcher_pb.JOB_EVENT_KIND_ACCEPTED
                if kind == "job_ack"
                else dispatcher_pb.JOB_EVENT_KIND_STARTED
            )
            self._spawn(self._report(progress.job_id, progress.attempt_id, event, "", False))
        elif kind == "asr_partial":
            partial = node_in.parse_asr_partial(msg)
            self._check_node_id(partial.node_id)
            self._spawn(
                self._report(
                    partial.job_id,
                    0,
                    dispatcher_pb.JOB_EVENT_KIND_ASR_PARTIAL,
                    partial.text,
                    partial.is_final,
                )
            )
        elif kind == "node_control":
            # The node's own request, e.g. {"command": "drain"} before it shuts down.
            command, reason = node_in.parse_node_control(msg)
            if command != "drain":
                raise WireError(f"node_control command {command!r} is not supported from nodes")
            self._spawn(self._drain(reason or "requested by the node"))
        elif kind == "node_error":
            node_id, code, message = node_in.parse_node_error(msg)
            logger.warning("node error", extra={"node_id": node_id, "code": code, "msg": message})
        else:
            raise WireError(f"unknown message type {kind!r} on /ws/node")

    def _check_node_id(self, node_id: str) -> None:
        if node_id != self.node_id:
            raise WireError(f"node_id {node_id!r} is not the id registered on this connection")

    def _spawn(self, coro: Any) -> None:
        if len(self._tasks) >= MAX_NODE_TASKS:
            coro.close()
            self.outbox.send(out.error("RATE_LIMITED", "too many messages in flight; slow down"))
            return
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _register(self, message: node_in.NodeRegister) -> None:
        try:
            reply = await self.ctx.registry.RegisterNode(
                registry_pb.RegisterNodeRequest(
                    node_id=message.node_id,
                    descriptor=message.descriptor,
                    gateway_id=self.ctx.gateway_id,
                ),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            # Rejections keep the connection: the node may fix itself and retry.
            self.outbox.send(
                out.error(wire_code_of(error), error.details() or "registration failed")
            )
            return
        previous = self.ctx.nodes.get(reply.node_id)
        if previous is not None and previous is not self:
            previous.superseded()
        if self.node_id and self.node_id != reply.node_id:
            self.ctx.nodes.pop(self.node_id, None)
        self.node_id, self.epoch = reply.node_id, reply.epoch
        self.ctx.nodes[self.node_id] = self
        self.outbox.send(
            out.node_register_ack(self.node_id, "registered", STATUS_NAMES.get(reply.status))
        )

    def superseded(self, reason: str = "superseded by a newer connection") -> None:
        """A newer registration of this node id exists: close this (older) socket."""
        if self.ctx.nodes.get(self.node_id) is self:
            del self.ctx.nodes[self.node_id]
        # Forget the id: closing this socket must not take the newer registration offline.
        self.node_id = ""
        self._close_task = asyncio.create_task(self.ws.close(CLOSE_SUPERSEDED, reason))

    async def _drain(self, reason: str) -> None:
        try:
            await self.ctx.registry.DrainNode(
                registry_pb.DrainNodeRequest(node_id=self.node_id, reason=reason),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            self.outbox.send(out.error(wire_code_of(error), error.details() or "drain failed"))

    def _queue_beat(self, beat: node_in.NodeHeartbeat) -> None:
        """One heartbeat call at a time per node; beats arriving meanwhile coalesce into
        the newest (keeping language capabilities an older one carried)."""
        pending = self._next_beat
        if (
            pending is not None
            and beat.language_capabilities is None
            and pending.language_capabilities is not None
        ):
            beat = dataclasses.replace(beat, language_capabilities=pending.language_capabilities)
        self._next_beat = beat
        if not self._beat_in_flight:
            self._beat_in_flight = True
            self._spawn(self._send_beats())

    async def _send_beats(self) -> None:
        try:
            while self._next_beat is not None:
                beat, self._next_beat = self._next_beat, None
                if not await self._heartbeat(beat):
                    return
        finally:
            self._beat_in_flight = False

    async def _heartbeat(self, beat: node_in.NodeHeartbeat) -> bool:
        """Record one beat; False when the connection must end."""
        request = registry_pb.HeartbeatRequest(
            node_id=self.node_id,
            epoch=self.epoch,
            resource_usage=beat.usage,
            capability_by_type=beat.capability_by_type,
        )
        if beat.language_capabilities is not None:
            request.language_capabilities.CopyFrom(beat.language_capabilities)
        try:
            await self.ctx.registry.Heartbeat(request, timeout=self.ctx.rpc_timeout_s)
        except grpc.aio.AioRpcError as error:
            code = wire_code_of(error)
            if code in ("NODE_ID_CONFLICT", "NODE_UNAVAILABLE"):
                # Superseded or swept: make the agent reconnect and register afresh.
                # The error goes out before the close, so the agent learns why.
                await self.outbox.send_and_wait(
                    out.error(code, error.details() or "register again")
                )
                await self.ws.close(CLOSE_REREGISTER, "register again")
                return False
            logger.warning("heartbeat failed", extra={"node_id": self.node_id, "code": code})
        return True

    async def _complete(self, message: node_in.NodeJobResult) -> None:
        try:
            await self.ctx.dispatcher.CompleteJob(
                dispatcher_pb.CompleteJobRequest(
                    job_id=message.job_id,
                    node_id=self.node_id,
                    attempt_id=message.attempt_id,
                    result=message.result,
                ),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            logger.error(
                "result not recorded",
                extra={
                    "job_id": message.job_id,
                    "node_id": self.node_id,
                    "code": wire_code_of(error),
                },
            )

    async def _report(
        self, job_id: str, attempt: int, kind: int, text: str, is_final: bool
    ) -> None:
        try:
            await self.ctx.dispatcher.ReportJobEvent(
                dispatcher_pb.ReportJobEventRequest(
                    job_id=job_id,
                    node_id=self.node_id,
                    attempt_id=attempt,
                    kind=kind,  # type: ignore[arg-type]
                    partial_text=text,
                    partial_is_final=is_final,
                ),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            logger.warning(
                "job event not recorded", extra={"job_id": job_id, "code": str(error.code())}
            )

    async def closed(self) -> None:
        """The socket is gone: the node goes offline unless it comes back in time."""
        await self.outbox.close()
        node_id, epoch = self.node_id, self.epoch
        if not node_id:
            return
        if self.ctx.nodes.get(node_id) is self:
            del self.ctx.nodes[node_id]
        self.ctx.spawn(self._offline_after_grace(node_id, epoch))

    async def _offline_after_grace(self, node_id: str, epoch: int) -> None:
        await asyncio.sleep(self.ctx.settings.node_offline_grace_ms / 1000)
        try:
            # Fenced by epoch: if the node re-registered meanwhile, this changes nothing.
            await self.ctx.registry.DeregisterNode(
                registry_pb.DeregisterNodeRequest(
                    node_id=node_id, epoch=epoch, reason="socket closed"
                ),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            logger.warning(
                "deregister failed", extra={"node_id": node_id, "code": str(error.code())}
            )
