"""gRPC GatewayService: other services reach a connection this replica owns."""

from __future__ import annotations

import grpc

from lingua.gateway.v1 import gateway_service_pb2 as pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from lingua_common.grpc_app import Context
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer
from services.gateway.context import GatewayContext
from services.gateway.wire import out

tracer = get_tracer(__name__)


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx

    async def DeliverToNode(
        self, request: pb.DeliverToNodeRequest, context: Context
    ) -> pb.DeliverToNodeResponse:
        link = self._ctx.nodes.get(request.node_id)
        if link is None or (request.epoch and link.epoch != request.epoch):
            return pb.DeliverToNodeResponse(delivered=False)
        which = request.WhichOneof("message")
        if which == "job_assign":
            message = out.job_assign(request.job_assign)
            link.job_traces.remember_current(request.job_assign.job_id)
        elif which == "job_cancel":
            message = out.job_cancel(request.job_cancel)
        elif which == "node_control":
            message = out.node_control(request.node_control.command, request.node_control.reason)
        else:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no message to deliver")
            raise AssertionError("unreachable")
        # Delivered means written to the open socket, not merely queued.
        with tracer.start_as_current_span(
            names.GATEWAY_SEND_TO_NODE,
            attributes={names.NODE_ID: request.node_id, names.MESSAGE_TYPE: which},
        ) as span:
            delivered = await link.outbox.send_and_wait(message)
            span.set_attribute(names.DELIVERED, delivered)
        return pb.DeliverToNodeResponse(delivered=delivered)

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
        link = self._ctx.sessions.get(request.session_id)
        if link is None:
            return pb.DeliverToSessionResponse(delivered=False)
        which = request.WhichOneof("message")
        if which is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no message to deliver")
            raise AssertionError("unreachable")
        with tracer.start_as_current_span(
            names.GATEWAY_SEND_TO_SESSION,
            attributes={names.SESSION_ID: request.session_id, names.MESSAGE_TYPE: which},
        ) as span:
            if which == "outcome":
                delivered = link.deliver_outcome(request.outcome)
            elif which == "asr_partial":
                delivered = link.deliver_partial(request.asr_partial)
            else:
                delivered = link.deliver_now(
                    out.ui_event_message(request.session_id, request.ui_event)
                )
            span.set_attribute(names.DELIVERED, delivered)
        return pb.DeliverToSessionResponse(delivered=delivered)
