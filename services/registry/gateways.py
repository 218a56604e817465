"""Telling the gateway replica that holds a node's socket what to do with it."""

from __future__ import annotations

import logging

import grpc

from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from lingua_common.cancellation import reraise_if_cancelling
from lingua_common.channels import ChannelCache
from services.registry.store import RedisRegistryStore

logger = logging.getLogger(__name__)

CALL_TIMEOUT_S = 2.0


class GatewayNotifier:
    def __init__(self, store: RedisRegistryStore, channels: ChannelCache) -> None:
        self._store = store
        self._channels = channels

    async def _stub(self, gateway_id: str) -> gw_grpc.GatewayServiceStub | None:
        address = await self._store.gateway_address(gateway_id)
        if not address:
            return None
        return gw_grpc.GatewayServiceStub(self._channels.get(address))

    async def disconnect(self, gateway_id: str, node_id: str, epoch: int, reason: str) -> bool:
        stub = await self._stub(gateway_id)
        if stub is None:
            return False
        try:
            reply = await stub.DisconnectNode(
                gw_pb.DisconnectNodeRequest(node_id=node_id, epoch=epoch, reason=reason),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            reraise_if_cancelling()
            logger.warning(
                "disconnect failed", extra={"node_id": node_id, "code": str(error.code())}
            )
            return False
        return bool(reply.disconnected)

    async def control(
        self, gateway_id: str, node_id: str, epoch: int, command: str, reason: str
    ) -> bool:
        stub = await self._stub(gateway_id)
        if stub is None:
            return False
        try:
            reply = await stub.DeliverToNode(
                gw_pb.DeliverToNodeRequest(
                    delivery=gw_pb.NodeDelivery(
                        node_id=node_id,
                        epoch=epoch,
                        node_control=gw_pb.NodeControl(command=command, reason=reason),
                    )
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as error:
            reraise_if_cancelling()
            logger.warning(
                "node control failed", extra={"node_id": node_id, "code": str(error.code())}
            )
            return False
        return bool(reply.delivered)
