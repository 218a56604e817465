"""gRPC GatewayService: other services reach a connection this replica owns (the job
path's deliveries come over the dispatchers' links instead; see deliveries.py)."""

from __future__ import annotations

from lingua.gateway.v1 import gateway_service_pb2 as pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from lingua_common.grpc_app import Context
from services.gateway.context import GatewayContext
from services.gateway.deliveries import Deliveries


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(self, ctx: GatewayContext, deliveries: Deliveries) -> None:
        self._ctx = ctx
        self._deliveries = deliveries

    async def DeliverToNode(
        self, request: pb.DeliverToNodeRequest, context: Context
    ) -> pb.DeliverToNodeResponse:
        return pb.DeliverToNodeResponse(delivered=await self._deliveries.to_node(request.delivery))

    async def DisconnectNode(
        self, request: pb.DisconnectNodeRequest, context: Context
    ) -> pb.DisconnectNodeResponse:
        link = self._ctx.nodes.get(request.node_id)
        if link is None or (request.epoch and link.epoch != request.epoch):
            return pb.DisconnectNodeResponse(disconnected=False)
        link.superseded(request.reason or "superseded")
        return pb.DisconnectNodeResponse(disconnected=True)

    async def DeliverToSession(
        self, request: pb.DeliverToSessionRequest, context: Context
    ) -> pb.DeliverToSessionResponse:
        return pb.DeliverToSessionResponse(delivered=self._deliveries.to_session(request.delivery))
