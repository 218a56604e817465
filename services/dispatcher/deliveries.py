"""What the dispatcher sends to sockets: assignments and cancels to a node's gateway,
answers, partials and progress events to a session's gateway, all over the links.

Answers (the one outcome of each utterance) are tracked: the session's gateway
acknowledges them, and only then is the job's timer disarmed (lifecycle.py). Progress
events and partials are not: a copy lost with a broken stream is not sent again.
"""

from __future__ import annotations

from collections.abc import Callable

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.telemetry.spans import traceparent
from services.dispatcher.links import GatewayLinks
from services.dispatcher.model import JobRef
from services.dispatcher.owners import Owner


class Deliveries:
    def __init__(self, links: GatewayLinks) -> None:
        self._links = links

    def assignment(
        self,
        owner: Owner,
        node_id: str,
        assignment: job_pb2.JobAssignment,
        traceparent: str,
        on_ack: Callable[[], None],
    ) -> bool:
        delivery = gw_pb.NodeDelivery(node_id=node_id, epoch=owner.epoch, job_assign=assignment)
        return self._links.send(
            owner.gateway_id,
            link_pb.DispatcherMessage(traceparent=traceparent, to_node=delivery),
            on_ack=on_ack,
            size=len(assignment.spec.audio),
        )

    def cancel(self, owner: Owner, node_id: str, ref: JobRef, reason: str) -> bool:
        delivery = gw_pb.NodeDelivery(
            node_id=node_id,
            epoch=owner.epoch,
            job_cancel=gw_pb.JobCancel(job_id=ref.job_id, trace_id=ref.trace_id, reason=reason),
        )
        return self._links.send(
            owner.gateway_id,
            link_pb.DispatcherMessage(traceparent=traceparent(), to_node=delivery),
            tracked=False,
        )

    def outcome(
        self, ref: JobRef, outcome: gw_pb.UtteranceOutcome, on_ack: Callable[[], None]
    ) -> bool:
        """The answer of an utterance; False when the session's gateway cannot take it
        now (its outbox is full): the job's timer brings it again."""
        size = len(outcome.result.tts_audio) if outcome.HasField("result") else 0
        delivery = gw_pb.SessionDelivery(job=ref.to_pb(), outcome=outcome)
        return self._links.send(
            ref.gateway_id,
            link_pb.DispatcherMessage(traceparent=traceparent(), to_session=delivery),
            on_ack=on_ack,
            size=size,
        )

    def partial(self, ref: JobRef, text: str, is_final: bool) -> None:
        delivery = gw_pb.SessionDelivery(
            job=ref.to_pb(), asr_partial=gw_pb.AsrPartial(text=text, is_final=is_final)
        )
        self._links.send(
            ref.gateway_id,
            link_pb.DispatcherMessage(traceparent=traceparent(), to_session=delivery),
            tracked=False,
        )

    def ui_event(self, ref: JobRef, event: str, elapsed_ms: int | None = None) -> None:
        ui = gw_pb.UiEvent(event=event)
        if elapsed_ms is not None:
            ui.elapsed_ms = max(0, elapsed_ms)
        delivery = gw_pb.SessionDelivery(job=ref.to_pb(), ui_event=ui)
        self._links.send(
            ref.gateway_id,
            link_pb.DispatcherMessage(traceparent=traceparent(), to_session=delivery),
            tracked=False,
        )
