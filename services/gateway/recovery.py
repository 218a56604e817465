"""What this gateway replica keeps in Redis, written back after Redis lost its data.

Redis restarted empty (or failed over to an empty replica, or was flushed): the sockets
and what they are doing live on here. So the replica advertises itself again, reclaims
its nodes' records under their current epochs (no node registers again or loses a job
it is working on), writes its sessions' state and open groups back, and sends the job of
every utterance still unanswered again (same request ids: the same jobs). A node whose
heartbeat finds its record gone (the loss not noticed here yet) is reclaimed the same
way, rather than sent away to register again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc

from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common.background import BackgroundTasks
from lingua_common.cancellation import reraise_if_cancelling

if TYPE_CHECKING:
    from services.gateway.context import GatewayContext
    from services.gateway.node_link import NodeLink
    from services.gateway.session_link import SessionLink

logger = logging.getLogger(__name__)

RECLAIM_BATCH = 500
SESSIONS_AT_ONCE = 64
# Nodes found without a record are gathered this long, then reclaimed in one call.
RECLAIM_LINGER_S = 0.05
# A step of a rebuild that fails (Redis still coming back) is tried again, bounded.
STEP_ATTEMPTS = 5
STEP_BACKOFF_S = 0.2


async def _persistently(step: Callable[[], Awaitable[None]], failed: str) -> None:
    for attempt in range(1, STEP_ATTEMPTS + 1):
        try:
            await step()
            return
        except Exception as error:
            reraise_if_cancelling()
            if attempt == STEP_ATTEMPTS:
                logger.warning(failed, extra={"error": repr(error)[:300], "attempts": attempt})
                return
        await asyncio.sleep(STEP_BACKOFF_S * attempt)


class GatewayRecovery:
    def __init__(self, ctx: GatewayContext, advertise: Callable[[], Awaitable[None]]) -> None:
        self._ctx = ctx
        self._advertise = advertise
        self._lost: dict[str, NodeLink] = {}
        self._background = BackgroundTasks()

    async def rebuild(self) -> None:
        """The data-loss hook: everything this replica holds, written back."""
        await _persistently(self._advertise, "gateway not advertised again")
        reclaimed = await self.reclaim(list(self._ctx.nodes.values()))
        gate = asyncio.Semaphore(SESSIONS_AT_ONCE)

        sessions = list(self._ctx.sessions.values())
        # The answers first: every unanswered utterance's job, again.
        jobs = sum(session.resend_unanswered() for session in sessions)

        async def state_of(session: SessionLink) -> None:
            async with gate:
                await _persistently(session.rewrite_state, "session state not written back")

        await asyncio.gather(*(state_of(s) for s in sessions))
        logger.warning(
            "gateway state rebuilt after a data loss",
            extra={"nodes": reclaimed, "sessions": len(sessions), "jobs_sent_again": jobs},
        )

    def record_lost(self, link: NodeLink) -> None:
        """A heartbeat found no record of this node: reclaim it (gathered with others)."""
        first = not self._lost
        self._lost[link.node_id] = link
        if first:
            self._background.spawn(self._reclaim_lost())

    async def _reclaim_lost(self) -> None:
        await asyncio.sleep(RECLAIM_LINGER_S)
        links, self._lost = list(self._lost.values()), {}
        await self.reclaim(links)

    async def reclaim(self, links: list[NodeLink]) -> int:
        """Write the nodes' records back under their current epochs; how many were."""
        held = [link for link in links if link.node_id and link.descriptor is not None]
        reclaimed = 0
        for first in range(0, len(held), RECLAIM_BATCH):
            batch = held[first : first + RECLAIM_BATCH]
            request = registry_pb.ReclaimNodesRequest(
                nodes=[
                    registry_pb.ReclaimedNode(
                        node_id=link.node_id,
                        epoch=link.epoch,
                        descriptor=link.descriptor,
                        gateway_id=self._ctx.gateway_id,
                        credential_fingerprint=link.identity.credential_fingerprint,
                    )
                    for link in batch
                ]
            )
            try:
                reply = await self._ctx.registry.ReclaimNodes(
                    request, timeout=self._ctx.rpc_timeout_s * 5
                )
            except grpc.aio.AioRpcError as error:
                reraise_if_cancelling()
                # Their next heartbeats find the records gone and ask again.
                logger.warning(
                    "nodes not reclaimed", extra={"nodes": len(batch), "code": str(error.code())}
                )
                continue
            reclaimed += sum(1 for ok in reply.reclaimed if ok)
        return reclaimed
