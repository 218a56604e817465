"""A node's heartbeats on their way to the registry: one at a time, coalesced.

Beats that arrive while one is under way collapse into the newest (keeping language
capabilities an older one carried), so a slow registry never builds a queue. They
travel on the gateway's heartbeat stream (heartbeat_uplink.py). A beat the registry
refuses because the registration is gone ends the connection: the agent reconnects
and registers afresh.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from lingua.registry.v1 import registry_service_pb2 as registry_pb
from services.gateway.context import GatewayContext
from services.gateway.wire import node_in

logger = logging.getLogger(__name__)

# The registry's answer to a beat: NODE_ID_CONFLICT / NODE_UNAVAILABLE end the link.
REREGISTER_CODES = frozenset({"NODE_ID_CONFLICT", "NODE_UNAVAILABLE"})
# No record at all (Redis lost it): the gateway writes it back; the node stays.
RECORD_LOST = "NODE_RECORD_LOST"


class HeartbeatQueue:
    def __init__(
        self,
        ctx: GatewayContext,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        reregister: Callable[[str, str], Awaitable[None]],
        record_lost: Callable[[], None],
    ) -> None:
        self._ctx = ctx
        self._spawn = spawn
        self._reregister = reregister
        self._record_lost = record_lost
        self._in_flight = False
        self._next: node_in.NodeHeartbeat | None = None

    def push(self, beat: node_in.NodeHeartbeat, node_id: str, epoch: int) -> None:
        pending = self._next
        if (
            pending is not None
            and beat.language_capabilities is None
            and pending.language_capabilities is not None
        ):
            beat = dataclasses.replace(beat, language_capabilities=pending.language_capabilities)
        self._next = beat
        if not self._in_flight:
            self._in_flight = True
            self._spawn(self._send(node_id, epoch))

    async def _send(self, node_id: str, epoch: int) -> None:
        try:
            while self._next is not None:
                beat, self._next = self._next, None
                if not await self._beat(beat, node_id, epoch):
                    return
        finally:
            self._in_flight = False

    async def _beat(self, beat: node_in.NodeHeartbeat, node_id: str, epoch: int) -> bool:
        """Record one beat; False when the connection must end."""
        request = registry_pb.HeartbeatRequest(
            node_id=node_id,
            epoch=epoch,
            resource_usage=beat.usage,
            capability_by_type=beat.capability_by_type,
        )
        if beat.language_capabilities is not None:
            request.language_capabilities.CopyFrom(beat.language_capabilities)
        result = await self._ctx.heartbeats.beat(request, self._ctx.rpc_timeout_s)
        if result.error_code == RECORD_LOST:
            self._record_lost()
            return True
        if result.error_code in REREGISTER_CODES:
            # Superseded or swept: make the agent reconnect and register afresh.
            await self._reregister(result.error_code, result.error_message or "register again")
            return False
        if result.error_code:
            logger.warning(
                "heartbeat not recorded",
                extra={
                    "node_id": node_id,
                    "code": result.error_code,
                    "reason": result.error_message,
                },
            )
        return True
