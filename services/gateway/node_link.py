"""One node's WebSocket (/ws/node): registration and what each of its messages does.

Heartbeats go through node_beats.py, the calls to other services through node_calls.py.

- A reconnecting agent's heartbeat timer outlives its socket, so a `node_heartbeat` may
  come before `node_register`: it is ignored quietly (counted), registration follows.
- A refused registration gets its `error`, then the socket is closed (1008 with the code
  as reason; 1013 when the refusal was a passing failure) so the agent's reconnect logic
  runs, and one WARNING line names the node, its address and the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

import grpc
from websockets.asyncio.connection import Connection

from lingua.common.v1 import node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common.background import BackgroundTasks
from lingua_common.errors import wire_code_of
from lingua_common.limits import preview
from services.gateway import node_calls
from services.gateway.auth import ANONYMOUS, Identity
from services.gateway.context import GatewayContext
from services.gateway.inflight import InFlight
from services.gateway.job_traces import JobTraces
from services.gateway.node_beats import HeartbeatQueue
from services.gateway.outbox import Outbox
from services.gateway.wire import node_in, out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)

CLOSE_SUPERSEDED = 4001
CLOSE_REREGISTER = 4002
CLOSE_SILENT = 1000  # a normal closure: every agent reconnects after one
CLOSE_REFUSED = 1008  # policy violation: the registration was refused
CLOSE_TRY_AGAIN = 1013  # try again later: registration failed for a passing reason
# Refusals the node itself must fix (PROTOCOL.md "Registration refusals end the connection").
REFUSAL_CODES = frozenset(
    {"INVALID_CAPABILITY_SCHEMA", "NO_GPU_AVAILABLE", "NODE_ID_CONFLICT", "UNAUTHENTICATED"}
)
# Assignments remembered per connection, to write each (job, attempt) once.
ASSIGNMENTS_REMEMBERED = 1024

STATUS_NAMES = {1: "registering", 2: "ready", 3: "degraded", 4: "draining", 5: "offline"}
PROGRESS_EVENTS = {
    "job_ack": dispatcher_pb.JOB_EVENT_KIND_ACCEPTED,
    "job_started": dispatcher_pb.JOB_EVENT_KIND_STARTED,
}


class NodeLink:
    def __init__(
        self,
        ws: Connection,
        ctx: GatewayContext,
        identity: Identity = ANONYMOUS,
        address: str = "",
    ) -> None:
        self.ws = ws
        self.ctx = ctx
        self.identity = identity
        self.address = address  # the peer's address, for the logs
        limits = ctx.settings.limits
        self.outbox = Outbox(ws, limits.send_queue, limits.send_queue_bytes)
        self.node_id = ""
        self.epoch = 0
        # The epoch of this socket's first registration (it may register again).
        self.since_epoch = 0
        # What the node registered with (kept to write its record back, should Redis
        # lose it while the socket stays open).
        self.descriptor: node_pb2.NodeDescriptor | None = None
        # Results and reports under way; more of them wait (the socket is not read meanwhile).
        self._work = InFlight(limits.node_inflight_tasks, limits.node_inflight_bytes)
        # Background work that is bounded by itself (one heartbeat call, one drain).
        self._background = BackgroundTasks()
        self._beats = HeartbeatQueue(
            ctx, self._background.spawn, self._reregister, lambda: ctx.recovery.record_lost(self)
        )
        self._close_task: asyncio.Task[None] | None = None
        self.job_traces = JobTraces()
        self._assigned: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.last_heard_ms = ctx.clock.now_ms()  # when its last message came

    def first_assignment(self, job_id: str, attempt: int) -> bool:
        """True the first time this connection is given (job, attempt); a link may send
        an assignment again after a reconnect, and agents refuse a job id twice."""
        key = (job_id, attempt)
        if key in self._assigned:
            return False
        self._assigned[key] = None
        if len(self._assigned) > ASSIGNMENTS_REMEMBERED:
            self._assigned.popitem(last=False)
        return True

    async def handle(self, msg: dict[str, Any]) -> None:
        self.last_heard_ms = self.ctx.clock.now_ms()
        kind = msg.get("type")
        if kind == "node_register":
            await self._register(node_in.parse_node_register(msg))
            return
        if not self.node_id:
            if kind == "node_heartbeat":
                # The agent's timer outlived its last socket; its register follows.
                self.ctx.metrics.heartbeats_before_register.inc()
                return
            raise WireError(f"{preview(str(kind))} before node_register: register first")
        if kind == "node_heartbeat":
            beat = node_in.parse_node_heartbeat(msg)
            self._check_node_id(beat.node_id)
            self._beats.push(beat, self.node_id, self.epoch)
        elif kind == "job_result":
            result = node_in.parse_job_result(msg)
            self._check_node_id(result.node_id)
            await self._work.run(
                node_calls.complete(
                    self.ctx, self.node_id, result, self.job_traces.pop(result.job_id)
                ),
                result.result.ByteSize(),
            )
        elif kind in PROGRESS_EVENTS:
            progress = node_in.parse_job_progress(msg)
            self._check_node_id(progress.node_id)
            await self._work.run(
                node_calls.report(
                    self.ctx,
                    self.node_id,
                    progress.job_id,
                    progress.attempt_id,
                    PROGRESS_EVENTS[kind],
                    parent=self.job_traces.get(progress.job_id),
                ),
                0,
            )
        elif kind == "asr_partial":
            partial = node_in.parse_asr_partial(msg)
            self._check_node_id(partial.node_id)
            await self._work.run(
                node_calls.report(
                    self.ctx,
                    self.node_id,
                    partial.job_id,
                    0,
                    dispatcher_pb.JOB_EVENT_KIND_ASR_PARTIAL,
                    partial.text,
                    partial.is_final,
                    parent=self.job_traces.get(partial.job_id),
                ),
                len(partial.text),
            )
        elif kind == "node_control":
            # The node's own request, e.g. {"command": "drain"} before it shuts down.
            command, reason = node_in.parse_node_control(msg)
            if command != "drain":
                raise WireError(
                    f"node_control command {preview(command)} is not supported from nodes"
                )
            await self._work.run(self._drain(reason or "requested by the node"), 0)
        elif kind == "node_error":
            node_id, code, message = node_in.parse_node_error(msg)
            self._check_node_id(node_id)
            logger.warning(
                "node error",
                extra={"node_id": node_id, "code": code[:64], "node_message": message[:256]},
            )
        else:
            raise WireError(f"unknown message type {preview(str(kind))} on /ws/node")

    def _check_node_id(self, node_id: str) -> None:
        if node_id != self.node_id:
            raise WireError(
                f"node_id {preview(node_id)} is not the id registered on this connection"
            )

    async def _register(self, message: node_in.NodeRegister) -> None:
        try:
            reply = await self.ctx.registry.RegisterNode(
                registry_pb.RegisterNodeRequest(
                    node_id=message.node_id,
                    descriptor=message.descriptor,
                    gateway_id=self.ctx.gateway_id,
                    credential_fingerprint=self.identity.credential_fingerprint,
                ),
                timeout=self.ctx.rpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            await self._refuse(message.node_id, wire_code_of(error), error.details() or "")
            return
        previous = self.ctx.nodes.get(reply.node_id)
        if previous is not None and previous is not self:
            previous.superseded()
        renamed = self.node_id and self.node_id != reply.node_id
        if renamed and self.ctx.nodes.pop(self.node_id, None) is self:
            self.ctx.links.node_lost(self.node_id, self.epoch)
        if renamed or not self.since_epoch:
            self.since_epoch = reply.epoch  # what ran under older epochs ran elsewhere
        self.node_id, self.epoch = reply.node_id, reply.epoch
        self.descriptor = message.descriptor  # to reclaim its record after a data loss
        self.ctx.nodes[self.node_id] = self
        self.ctx.links.node_held(self.node_id, self.epoch, self.since_epoch)
        # A node that can serve nothing is accepted, and told why (the registry logs it).
        said = "registered"
        if reply.not_serving:
            said = f"registered; not serving: {reply.not_serving}"
        self.outbox.send(out.node_register_ack(self.node_id, said, STATUS_NAMES.get(reply.status)))

    async def _refuse(self, requested_id: str, code: str, details: str) -> None:
        """The error first, so the agent learns why; then the close runs its reconnect."""
        reason = (details or "registration failed")[:256]
        node_id = requested_id or "(new)"
        # One line an operator can read in either log format.
        logger.warning(
            "node registration refused: node %s at %s: %s (%s)",
            node_id,
            self.address or "?",
            code,
            reason,
            extra={"node_id": node_id, "address": self.address, "code": code, "reason": reason},
        )
        await self.outbox.send_and_wait(out.error(code, reason))
        close_code = CLOSE_REFUSED if code in REFUSAL_CODES else CLOSE_TRY_AGAIN
        # A close reason is at most 123 bytes; the code is short and says it all.
        await self.ws.close(close_code, code[:64])

    def silent(self, silent_ms: int) -> bool:
        """Nothing heard for too long: close the socket (the node, if alive, reconnects).
        False when the socket is closing already."""
        if self._close_task is not None:
            return False
        reason = f"no message for {silent_ms // 1000} s"
        self._close_task = asyncio.create_task(self.ws.close(CLOSE_SILENT, reason))
        return True

    def superseded(self, reason: str = "superseded by a newer connection") -> None:
        """A newer registration of this node id exists: close this (older) socket."""
        if self.ctx.nodes.get(self.node_id) is self:
            del self.ctx.nodes[self.node_id]
            self.ctx.links.node_lost(self.node_id, self.epoch)
        # Forget the id: closing this socket must not take the newer registration offline.
        self.node_id = ""
        self._close_task = asyncio.create_task(self.ws.close(CLOSE_SUPERSEDED, reason))

    async def _reregister(self, code: str, details: str) -> None:
        # The error goes out before the close, so the agent learns why.
        await self.outbox.send_and_wait(out.error(code, details))
        await self.ws.close(CLOSE_REREGISTER, "register again")

    async def _drain(self, reason: str) -> None:
        code = await node_calls.drain(self.ctx, self.node_id, reason)
        if code is not None:
            self.outbox.send(out.error(code, "drain failed"))

    async def closed(self) -> None:
        """The socket is gone: the node goes offline unless it comes back in time."""
        await self.outbox.close()
        node_id, epoch = self.node_id, self.epoch
        if not node_id:
            return
        if self.ctx.nodes.get(node_id) is self:
            del self.ctx.nodes[node_id]
        self.ctx.links.node_lost(node_id, epoch)
        self.ctx.spawn(node_calls.offline_after_grace(self.ctx, node_id, epoch))
