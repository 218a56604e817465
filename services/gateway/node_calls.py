"""What a node's messages become at the other services: results and job events (over
the dispatchers' links), drain, and the offline report after its socket closed. Failures
are logged, never raised: a node's message must not take its connection down."""

from __future__ import annotations

import asyncio
import logging

import grpc
from opentelemetry import context as otel_context

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common.errors import wire_code_of
from lingua_common.telemetry import names
from lingua_common.telemetry.spans import get_tracer, traceparent
from services.gateway.context import GatewayContext
from services.gateway.wire import node_in

logger = logging.getLogger(__name__)
tracer = get_tracer(__name__)

OFFLINE_REPORT_ATTEMPTS = 3
OFFLINE_REPORT_BACKOFF_S = 0.5
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


async def complete(
    ctx: GatewayContext,
    node_id: str,
    message: node_in.NodeJobResult,
    parent: otel_context.Context | None = None,
) -> None:
    """A node's result, to a dispatcher: returns once one has handled it (a link that
    breaks first sends it again, to whichever replica it reaches). `parent`: the trace of
    the job_assign this answers (see job_traces.py)."""
    with tracer.start_as_current_span(
        names.GATEWAY_NODE_RESULT,
        context=parent,
        attributes={
            names.JOB_ID: message.job_id,
            names.NODE_ID: node_id,
            names.JOB_ATTEMPT: message.attempt_id,
        },
    ):
        await ctx.links.report(
            link_pb.NodeReport(
                job_id=message.job_id,
                node_id=node_id,
                attempt_id=message.attempt_id,
                result=message.result,
            ),
            traceparent(),
            message.result.ByteSize(),
        )


async def report(
    ctx: GatewayContext,
    node_id: str,
    job_id: str,
    attempt: int,
    kind: int,
    text: str = "",
    is_final: bool = False,
    parent: otel_context.Context | None = None,
) -> None:
    """A node's progress on a job (ack, started, ASR partial), to a dispatcher."""
    with tracer.start_as_current_span(
        names.GATEWAY_NODE_EVENT,
        context=parent,
        attributes={names.JOB_ID: job_id, names.NODE_ID: node_id, names.JOB_ATTEMPT: attempt},
    ):
        await ctx.links.report(
            link_pb.NodeReport(
                job_id=job_id,
                node_id=node_id,
                attempt_id=attempt,
                progress=link_pb.NodeProgress(
                    kind=kind,  # type: ignore[arg-type]
                    partial_text=text,
                    partial_is_final=is_final,
                ),
            ),
            traceparent(),
            len(text),
        )


async def drain(ctx: GatewayContext, node_id: str, reason: str) -> str | None:
    """Ask the registry to drain the node; the wire error code when it refused."""
    try:
        await ctx.registry.DrainNode(
            registry_pb.DrainNodeRequest(node_id=node_id, reason=reason),
            timeout=ctx.rpc_timeout_s,
        )
    except grpc.aio.AioRpcError as error:
        return wire_code_of(error)
    return None


async def offline_after_grace(ctx: GatewayContext, node_id: str, epoch: int) -> None:
    """The socket closed: the node is offline unless it re-registered within the grace.

    When thousands of sockets drop at once (a network blip, a gateway restart), the
    reports queue here, a bounded number at a time, rather than all timing out at a
    swamped registry; one that fails is tried again a few times. Should all fail, the
    registry's sweep still takes the node offline after three heartbeat intervals.
    """
    await asyncio.sleep(ctx.settings.node_offline_grace_ms / 1000)
    request = registry_pb.DeregisterNodeRequest(
        node_id=node_id, epoch=epoch, reason="socket closed"
    )
    for attempt in range(1, OFFLINE_REPORT_ATTEMPTS + 1):
        try:
            async with ctx.offline_reports:
                # Fenced by epoch: if the node re-registered meanwhile, this changes
                # nothing, so trying again is safe.
                await ctx.registry.DeregisterNode(request, timeout=ctx.rpc_timeout_s)
            return
        except grpc.aio.AioRpcError as error:
            if attempt == OFFLINE_REPORT_ATTEMPTS or error.code() not in RETRYABLE:
                logger.warning(
                    "deregister failed",
                    extra={"node_id": node_id, "code": str(error.code()), "attempts": attempt},
                )
                return
        await asyncio.sleep(OFFLINE_REPORT_BACKOFF_S * attempt)
