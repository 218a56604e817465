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

logger = logging.getLogger(__name__)

RECLAIM_BATCH = 500
SESSIONS_AT_ONCE = 64
# Nodes found without a record are gathered this long, then reclaimed in one call.
RECLAIM_LINGER_S = 0.05


class GatewayRecovery:
    def __init__(self, ctx: GatewayContext, advertise: Callable[[], Awaitable[None]]) -> None:
        self._ctx = ctx
        self._advertise = advertise
        self._lost: dict[str, NodeLink] = {}
        self._background = BackgroundTasks()

    async def rebuild(self) -> None:
        """The data-loss hook: everything this replica holds, written back."""
        await self._advertise()
        reclaimed = await self.reclaim(list(self._ctx.nodes.values()))
        gate = asyncio.Semaphore(SESSIONS_AT_ONCE)

        async def one(session: object) -> None:
            async with gate:
                try:
                    await session.rebuild()  # type: ignore[attr-defined]
                except Exception:
                    logger.exception("session not rebuilt after a data loss")

        sessions = list(self._ctx.sessions.values())
        await asyncio.gather(*(one(s) for s in sessions))
        logger.warning(
            "gateway state rebuilt after a data loss",
            extra={"nodes": reclaimed, "sessions": len(sessions)},
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
