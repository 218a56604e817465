"""gRPC RegistryService: proto <-> domain, DomainError -> status + wire code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from lingua.common.v1 import node_pb2
from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.errors import DomainError, abort_with
from lingua_common.grpc_app import Context
from lingua_common.interceptors import refuse_invalid
from lingua_common.limits import PAGE_SIZE_MAX, LimitError, check_message, page_number
from services.registry.domain import HeartbeatInput, HeldNode, Registry
from services.registry.model import NodeEvent, NodeRecord, NodeStatus
from services.registry.store import RedisRegistryStore

STATUS_TO_PB = {
    NodeStatus.REGISTERING: node_pb2.NODE_STATUS_REGISTERING,
    NodeStatus.READY: node_pb2.NODE_STATUS_READY,
    NodeStatus.DEGRADED: node_pb2.NODE_STATUS_DEGRADED,
    NodeStatus.DRAINING: node_pb2.NODE_STATUS_DRAINING,
    NodeStatus.OFFLINE: node_pb2.NODE_STATUS_OFFLINE,
}
PB_TO_STATUS = {v: k for k, v in STATUS_TO_PB.items()}
EVENT_KIND_TO_PB = {
    "registered": pb.NODE_EVENT_KIND_REGISTERED,
    "status_changed": pb.NODE_EVENT_KIND_STATUS_CHANGED,
    "offline": pb.NODE_EVENT_KIND_OFFLINE,
}
MAX_PAGE_SIZE = PAGE_SIZE_MAX
MAX_BEATS_PER_BATCH = 1_000  # as documented in the proto
WATCH_BLOCK_MS = 1_000


MAX_RECLAIMS = 1_000


class RegistryServicer(pb_grpc.RegistryServiceServicer):
    def __init__(self, registry: Registry, store: RedisRegistryStore) -> None:
        self._registry = registry
        self._store = store

    async def RegisterNode(
        self, request: pb.RegisterNodeRequest, context: Context
    ) -> pb.RegisterNodeResponse:
        try:
            registration = await self._registry.register(
                request.node_id,
                request.descriptor,
                request.gateway_id,
                request.credential_fingerprint,
            )
        except DomainError as error:
            await abort_with(context, error)
            raise
        return pb.RegisterNodeResponse(
            node_id=registration.node_id,
            epoch=registration.epoch,
            status=STATUS_TO_PB[registration.status],
            not_serving=registration.not_serving,
        )

    async def ReclaimNodes(
        self, request: pb.ReclaimNodesRequest, context: Context
    ) -> pb.ReclaimNodesResponse:
        if len(request.nodes) > MAX_RECLAIMS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_RECLAIMS} nodes per call"
            )
        if any(not n.node_id or not n.epoch for n in request.nodes):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "every node needs its node_id and epoch"
            )
        reclaimed = await self._registry.reclaim(
            [
                HeldNode(
                    node_id=n.node_id,
                    epoch=n.epoch,
                    gateway_id=n.gateway_id,
                    descriptor=n.descriptor,
                    credential=n.credential_fingerprint,
                )
                for n in request.nodes
            ]
        )
        return pb.ReclaimNodesResponse(reclaimed=reclaimed)

    async def Heartbeat(
        self, request: pb.HeartbeatRequest, context: Context
    ) -> pb.HeartbeatResponse:
        try:
            status = await self._registry.heartbeat(_beat_of(request))
        except DomainError as error:
            await abort_with(context, error)
            raise
        return pb.HeartbeatResponse(status=STATUS_TO_PB[status])

    async def StreamHeartbeats(
        self, request_iterator: AsyncIterator[pb.StreamHeartbeatsRequest], context: Context
    ) -> AsyncIterator[pb.StreamHeartbeatsResponse]:
        async for batch in request_iterator:
            if len(batch.beats) > MAX_BEATS_PER_BATCH:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"batch {batch.batch_id} has {len(batch.beats)} beats; "
                    f"at most {MAX_BEATS_PER_BATCH}",
                )
            try:  # streamed, so checked here (unary requests are checked before us)
                check_message(batch)
            except LimitError as error:
                await refuse_invalid(context, error)
            results = await self._registry.heartbeat_many([_beat_of(b) for b in batch.beats])
            yield pb.StreamHeartbeatsResponse(
                batch_id=batch.batch_id, outcomes=[_outcome_of(r) for r in results]
            )

    async def DeregisterNode(
        self, request: pb.DeregisterNodeRequest, context: Context
    ) -> pb.DeregisterNodeResponse:
        applied = await self._registry.deregister(
            request.node_id, request.epoch, request.reason or "deregistered"
        )
        return pb.DeregisterNodeResponse(applied=applied)

    async def DrainNode(
        self, request: pb.DrainNodeRequest, context: Context
    ) -> pb.DrainNodeResponse:
        try:
            status = await self._registry.drain(request.node_id, request.reason)
        except DomainError as error:
            await abort_with(context, error)
            raise
        return pb.DrainNodeResponse(status=STATUS_TO_PB[status])

    async def GetNode(self, request: pb.GetNodeRequest, context: Context) -> pb.GetNodeResponse:
        try:
            record = await self._registry.get(request.node_id)
        except DomainError as error:
            await abort_with(context, error)
            raise
        return pb.GetNodeResponse(node=node_to_pb(record, self._registry.not_serving(record)))

    async def ListNodes(
        self, request: pb.ListNodesRequest, context: Context
    ) -> pb.ListNodesResponse:
        size = min(request.page_size or 100, MAX_PAGE_SIZE)
        try:
            cursor = page_number("page_token", request.page_token)
        except LimitError as error:
            await refuse_invalid(context, error)
            raise
        wanted = PB_TO_STATUS.get(request.status)
        next_cursor, ids = await self._store.list_ids(cursor, size)
        nodes = []
        for node_id in ids:
            record = await self._store.get(node_id)
            if record is not None and (wanted is None or record.status is wanted):
                nodes.append(node_to_pb(record, self._registry.not_serving(record)))
        return pb.ListNodesResponse(
            nodes=nodes, next_page_token=str(next_cursor) if next_cursor else ""
        )

    async def WatchNodes(
        self, request: pb.WatchNodesRequest, context: Context
    ) -> AsyncIterator[pb.WatchNodesResponse]:
        # "From now" is pinned to the feed's current end, so nothing falls between reads.
        after = request.after_event_id or await self._store.last_event_id()
        while True:
            events = await self._store.read_events(after, WATCH_BLOCK_MS, 100)
            for event in events:
                after = event.event_id
                yield event_to_pb(event)


def _beat_of(request: pb.HeartbeatRequest) -> HeartbeatInput:
    return HeartbeatInput(
        node_id=request.node_id,
        epoch=request.epoch,
        usage=request.resource_usage,
        capability_by_type=list(request.capability_by_type),
        language_caps=(
            request.language_capabilities if request.HasField("language_capabilities") else None
        ),
    )


def _outcome_of(result: NodeStatus | DomainError) -> pb.HeartbeatOutcome:
    if isinstance(result, DomainError):
        return pb.HeartbeatOutcome(error_code=result.code, error_message=result.message)
    return pb.HeartbeatOutcome(status=STATUS_TO_PB[result])


def node_to_pb(record: NodeRecord, not_serving: str = "") -> node_pb2.Node:
    node = node_pb2.Node(
        node_id=record.node_id,
        not_serving=not_serving,
        epoch=record.epoch,
        status=STATUS_TO_PB[record.status],
        status_reason=record.status_reason,
        gateway_id=record.gateway_id,
        running_jobs=record.running_jobs,
        max_jobs=record.max_jobs,
        registered_at_ms=record.registered_at_ms,
        last_heartbeat_ms=record.last_seen_ms,
    )
    if record.descriptor:
        node.descriptor.ParseFromString(record.descriptor)
    if record.usage:
        node.resource_usage.ParseFromString(record.usage)
    node.history.extend(record.history)
    return node


def event_to_pb(event: NodeEvent) -> pb.WatchNodesResponse:
    return pb.WatchNodesResponse(
        event_id=event.event_id,
        kind=EVENT_KIND_TO_PB.get(event.kind, pb.NODE_EVENT_KIND_UNSPECIFIED),
        node_id=event.node_id,
        epoch=event.epoch,
        status=STATUS_TO_PB.get(NodeStatus(event.status), node_pb2.NODE_STATUS_UNSPECIFIED),
        reason=event.reason,
        at_ms=event.at_ms,
    )
