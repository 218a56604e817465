"""Reaching WebSocket connections through the gateway replica that owns them."""

from __future__ import annotations

import logging
import time

import grpc

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from lingua_common.cancellation import reraise_if_cancelling
from lingua_common.channels import ChannelCache
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 2.0
ADDRESS_CACHE_S = 5.0


class GatewayRouter:
    def __init__(self, store: RedisJobStore, channels: ChannelCache) -> None:
        self._store = store
        self._channels = channels
        self._addresses: dict[str, tuple[str, float]] = {}

    async def _stub(self, gateway_id: str) -> gw_grpc.GatewayServiceStub | None:
        cached = self._addresses.get(gateway_id)
        now = time.monotonic()
        if cached is None or cached[1] < now:
            address = await self._store.gateway_address(gateway_id)
            if not address:
                self._addresses.pop(gateway_id, None)
                return None
            cached = (address, now + ADDRESS_CACHE_S)
            self._addresses[gateway_id] = cached
        return gw_grpc.GatewayServiceStub(self._channels.get(cached[0]))

    async def deliver_to_node(self, gateway_id: str, request: gw_pb.DeliverToNodeRequest) -> bool:
        stub = await self._stub(gateway_id)
        if stub is None:
            return False
        try:
            reply = await stub.DeliverToNode(request, timeout=DELIVERY_TIMEOUT_S)
        except grpc.aio.AioRpcError as error:
            reraise_if_cancelling()
            logger.warning(
                "node delivery failed",
                extra={
                    "gateway_id": gateway_id,
                    "node_id": request.node_id,
                    "code": str(error.code()),
                },
            )
            self._addresses.pop(gateway_id, None)
            return False
        return bool(reply.delivered)

    async def deliver_to_session(
        self, gateway_id: str, request: gw_pb.DeliverToSessionRequest
    ) -> bool:
        """Deliver via the given replica, falling back to the session's current owner."""
        tried = set()
        for candidate in (gateway_id, None):
            target = candidate or await self._store.session_owner(request.session_id)
            if not target or target in tried:
                continue
            tried.add(target)
            stub = await self._stub(target)
            if stub is None:
                continue
            try:
                reply = await stub.DeliverToSession(request, timeout=DELIVERY_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                reraise_if_cancelling()
                logger.warning(
                    "session delivery failed",
                    extra={
                        "gateway_id": target,
                        "session_id": request.session_id,
                        "code": str(error.code()),
                    },
                )
                self._addresses.pop(target, None)
                continue
            if reply.delivered:
                return True
        return False


def assignment_request(
    node_id: str, epoch: int, job_id: str, attempt: int, trace_id: str, spec: job_pb2.JobSpec
) -> gw_pb.DeliverToNodeRequest:
    return gw_pb.DeliverToNodeRequest(
        node_id=node_id,
        epoch=epoch,
        job_assign=job_pb2.JobAssignment(
            job_id=job_id, attempt_id=attempt, trace_id=trace_id, spec=spec
        ),
    )
