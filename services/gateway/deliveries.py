"""What the dispatchers hand this replica for its sockets: assignments and cancels for a
node, answers and progress events for a session — from a link (the job path), or from
the unary GatewayService calls that tools and tests use.

An assignment this node connection was already given (a link resent it after a
reconnect) is not written again: agents refuse a second job with the same id.
"""

from __future__ import annotations

from opentelemetry import context as otel_context

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import context_of, get_tracer, traceparent
from services.gateway.context import GatewayContext
from services.gateway.wire import out

tracer = get_tracer(__name__)


class Deliveries:
    def __init__(self, ctx: GatewayContext) -> None:
        self._ctx = ctx

    async def from_link(self, message: link_pb.DispatcherMessage) -> None:
        """One message of a dispatcher's link; it is acknowledged once this returns."""
        parent = context_of(message.traceparent)
        which = message.WhichOneof("body")
        if which == "to_node":
            delivery = message.to_node
            if not await self.to_node(delivery, parent) and delivery.HasField("job_assign"):
                # Not the job's fault: the dispatcher takes the attempt back and places
                # it elsewhere (the report is acknowledged on its own).
                self._ctx.spawn(self._undeliverable(delivery))
        elif which == "to_session":
            self.to_session(message.to_session, parent)

    async def to_node(
        self, delivery: gw_pb.NodeDelivery, parent: otel_context.Context | None = None
    ) -> bool:
        """Written to the node's open socket (True), or this replica has no socket of
        that node and epoch (False)."""
        link = self._ctx.nodes.get(delivery.node_id)
        if link is None or (delivery.epoch and link.epoch != delivery.epoch):
            return False
        which = delivery.WhichOneof("message")
        if which == "job_assign":
            assignment = delivery.job_assign
            if not link.first_assignment(assignment.job_id, assignment.attempt_id):
                return True  # written before, on this very connection
            message = out.job_assign(assignment)
        elif which == "job_cancel":
            message = out.job_cancel(delivery.job_cancel)
        elif which == "node_control":
            message = out.node_control(delivery.node_control.command, delivery.node_control.reason)
        else:
            return False
        # Delivered means written to the open socket, not merely queued.
        with tracer.start_as_current_span(
            names.GATEWAY_SEND_TO_NODE,
            context=parent,
            attributes={names.NODE_ID: delivery.node_id, names.MESSAGE_TYPE: which},
        ) as span:
            if which == "job_assign":
                link.job_traces.remember_current(delivery.job_assign.job_id)
            delivered = await link.outbox.send_and_wait(message)
            span.set_attribute(names.DELIVERED, delivered)
        return delivered

    def to_session(
        self, delivery: gw_pb.SessionDelivery, parent: otel_context.Context | None = None
    ) -> bool:
        link = self._ctx.sessions.get(delivery.job.session_id)
        if link is None:
            return False  # the session is gone: nobody to answer
        with tracer.start_as_current_span(
            names.GATEWAY_SEND_TO_SESSION,
            context=parent,
            attributes={
                names.SESSION_ID: delivery.job.session_id,
                names.MESSAGE_TYPE: delivery.WhichOneof("message") or "",
            },
        ) as span:
            delivered = link.deliver(delivery)
            span.set_attribute(names.DELIVERED, delivered)
        return delivered

    async def _undeliverable(self, delivery: gw_pb.NodeDelivery) -> None:
        assignment = delivery.job_assign
        await self._ctx.links.report(
            link_pb.NodeReport(
                job_id=assignment.job_id,
                node_id=delivery.node_id,
                attempt_id=assignment.attempt_id,
                undeliverable=link_pb.Undeliverable(reason="no socket of that node here"),
            ),
            traceparent(),
        )
