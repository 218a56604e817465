"""GatewayLinkService: the dispatcher's end of each gateway's link (the job path).

Thin: a stream opens with the gateway's hello (who it is, which node sockets it holds),
then each message the gateway sends is handed to the intake or the node reports; what
this replica has for the gateway flows back on the same stream (links.py).

Only the scheduler's services reach it (the service credential, api_auth.py), and every
message is checked against the table of limits (limits.py) all the same: a hello out of
bounds ends the stream (INVALID_ARGUMENT); a message out of bounds is refused alone (a
new job is answered with INVALID_MESSAGE, anything else is dropped and logged), so one
bad message never holds up the stream behind it (it would be sent again forever).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2_grpc as link_grpc
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua_common.grpc_app import Context
from lingua_common.interceptors import refuse_invalid
from lingua_common.limits import LimitError, check_message, check_string, preview, require
from lingua_common.link import STREAM_END, LinkStream
from services.dispatcher.errors import JobError
from services.dispatcher.intake import JobIntake
from services.dispatcher.links import DispatcherCodec, GatewayLinks, LinkProtocolError
from services.dispatcher.lost_connections import LostConnections
from services.dispatcher.model import JobRef
from services.dispatcher.node_reports import NodeReports
from services.dispatcher.owners import NodeOwners
from services.dispatcher.store import RequestIdClashError

logger = logging.getLogger(__name__)

PROGRESS_KINDS = {
    dispatcher_pb.JOB_EVENT_KIND_ACCEPTED: "accepted",
    dispatcher_pb.JOB_EVENT_KIND_STARTED: "started",
    dispatcher_pb.JOB_EVENT_KIND_ASR_PARTIAL: "partial",
}


class GatewayLinkServicer(link_grpc.GatewayLinkServiceServicer):
    def __init__(
        self,
        replica_id: str,
        links: GatewayLinks,
        owners: NodeOwners,
        intake: JobIntake,
        reports: NodeReports,
        connections: LostConnections,
    ) -> None:
        self._replica_id = replica_id
        self._links = links
        self._owners = owners
        self._intake = intake
        self._reports = reports
        self._connections = connections

    async def Link(
        self, request_iterator: AsyncIterator[link_pb.LinkRequest], context: Context
    ) -> None:
        first = await context.read()
        if first is STREAM_END or first.WhichOneof("frame") != "hello":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a link opens with a hello")
            return
        try:
            require("hello.gateway_id", first.hello.gateway_id)
            check_message(first.hello, "hello")
        except LimitError as error:
            await refuse_invalid(context, error)
            return
        gateway_id = first.hello.gateway_id
        self._owners.hello(gateway_id, [(n.node_id, n.epoch) for n in first.hello.nodes])
        self._owners.linked(gateway_id)
        queue = self._links.attached(gateway_id)
        stream = LinkStream(
            queue,
            lambda message: self._handle(gateway_id, message),
            DispatcherCodec(),
            self._links.limits,
            f"link:{gateway_id}",
        )

        async def read() -> link_pb.LinkRequest | None:
            frame = await context.read()
            return None if frame is STREAM_END else frame

        logger.info("gateway linked", extra={"gateway_id": gateway_id})
        try:
            await context.write(
                link_pb.LinkResponse(welcome=link_pb.LinkWelcome(dispatcher_id=self._replica_id))
            )
            await stream.run(read, context.write)
        except LinkProtocolError as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        finally:
            self._links.detached(gateway_id)
            self._owners.unlinked(gateway_id)
            logger.info("gateway unlinked", extra={"gateway_id": gateway_id})

    async def _handle(self, gateway_id: str, message: link_pb.GatewayMessage) -> None:
        body = message.WhichOneof("body")
        try:
            _check(message, body)
        except LimitError as error:
            if body == "new_job":
                await self._refuse_job(gateway_id, message.new_job.spec, error)
            else:
                logger.warning(
                    "link message refused", extra={"gateway_id": gateway_id, "error": str(error)}
                )
            return
        if body == "new_job":
            await self._new_job(gateway_id, message.new_job, message.traceparent)
        elif body == "report":
            await self._report(message.report, message.traceparent)
        elif body == "node_held":
            held = message.node_held
            self._owners.held(gateway_id, held.node_id, held.epoch)
            self._connections.held(held.node_id, held.since_epoch or held.epoch)
        elif body == "node_lost":
            lost = message.node_lost
            self._owners.lost(gateway_id, lost.node_id, lost.epoch)
            self._connections.lost(lost.node_id, lost.epoch)

    async def _new_job(self, gateway_id: str, new_job: link_pb.NewJob, parent: str) -> None:
        spec = new_job.spec
        try:
            await self._intake.new_job(
                new_job.request_id, spec, gateway_id, parent=parent, trace_id=new_job.trace_id
            )
        except (JobError, RequestIdClashError) as error:
            # A refusal is this utterance's answer (the gateway checked it already, so
            # this is rare); anything else is transient and the message is tried again.
            await self._refuse_job(gateway_id, spec, error)

    async def _refuse_job(self, gateway_id: str, spec: job_pb2.JobSpec, error: Exception) -> None:
        code = "INTERNAL_ERROR"
        if isinstance(error, JobError):
            code = error.code
        elif isinstance(error, LimitError):
            code = "INVALID_MESSAGE"
        logger.warning(
            "job refused",
            extra={"session_id": preview(spec.session_id), "code": code, "error": str(error)},
        )
        self._links.send(
            gateway_id,
            link_pb.DispatcherMessage(
                to_session=gw_pb.SessionDelivery(
                    job=JobRef("", spec.session_id, spec.utterance_index, "", gateway_id).to_pb(),
                    outcome=gw_pb.UtteranceOutcome(
                        error=job_pb2.JobError(code=code, message=str(error))
                    ),
                )
            ),
        )

    async def _report(self, report: link_pb.NodeReport, parent: str) -> None:
        kind = report.WhichOneof("report")
        if kind == "result":
            await self._reports.result(
                report.job_id, report.node_id, report.attempt_id, report.result, parent
            )
        elif kind == "progress":
            what = PROGRESS_KINDS.get(report.progress.kind)
            if what is not None:
                await self._reports.progress(
                    report.job_id,
                    report.node_id,
                    report.attempt_id,
                    what,
                    report.progress.partial_text,
                    report.progress.partial_is_final,
                    parent,
                )
        elif kind == "undeliverable":
            await self._reports.undeliverable(report.job_id, report.node_id, report.attempt_id)


def _check(message: link_pb.GatewayMessage, body: str | None) -> None:
    """A gateway's message against the table of limits (a new job's spec is checked by
    the intake, which refuses it as the utterance's answer)."""
    check_string("traceparent", message.traceparent)
    if body == "new_job":
        check_string("new_job.request_id", message.new_job.request_id)
        check_string("new_job.trace_id", message.new_job.trace_id)
    elif body == "report":
        require("report.job_id", message.report.job_id)
        require("report.node_id", message.report.node_id)
        check_message(message.report, "report")
    elif body in ("node_held", "node_lost"):
        held = message.node_held if body == "node_held" else message.node_lost
        require(f"{body}.node_id", held.node_id)
        check_message(held, body)
