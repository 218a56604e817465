"""The services' gRPC APIs as an operator tool calls them: with the operator's bearer
tokens (lingua_common.operator_auth), bounded pages, a deadline on every unary call, and
failures turned into one readable line (OpsError)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from lingua.common.v1 import job_pb2, node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dispatcher_grpc
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.channels import insecure_channel
from lingua_common.errors import ERROR_CODE_METADATA_KEY
from lingua_common.operator_auth import CallCredentials, api_of

PAGE_SIZE = 500
# Listing stops here: a tool shows this many and says there are more.
DEFAULT_NODE_LIMIT = 5_000
DEFAULT_POOL_LIMIT = 5_000

T = TypeVar("T")


class OpsError(Exception):
    """A call failed; str() is one line an operator can act on, `code` the gRPC status
    name ("" when the failure was not a gRPC status)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Endpoints:
    """gRPC addresses (host:port, or any gRPC target such as ipv4:a,b)."""

    registry: str
    pool: str
    dispatcher: str


def describe(error: grpc.aio.AioRpcError, service: str, address: str, what: str) -> str:
    code = error.code()
    details = (error.details() or "").splitlines()[0] if error.details() else ""
    wire = ""
    metadata: Any = error.trailing_metadata() or ()
    for key, value in metadata:
        if key == ERROR_CODE_METADATA_KEY:
            wire = f" [{value}]"
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and not wire:
        return f"{service} at {address} did not answer {what} ({code.name}: {details})"
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return f"{service} refused the credentials for {what}: {details} (set the LINGUA_*_TOKEN)"
    return f"{what}: {details or code.name} ({code.name}){wire}"


class SchedulerClient:
    """Registry, pool and dispatcher, one channel each."""

    def __init__(
        self, endpoints: Endpoints, credentials: CallCredentials, timeout_s: float = 10.0
    ) -> None:
        self.endpoints = endpoints
        self._credentials = credentials
        self._timeout_s = timeout_s
        self._channels = {
            "registry": insecure_channel(endpoints.registry),
            "pool": insecure_channel(endpoints.pool),
            "dispatcher": insecure_channel(endpoints.dispatcher),
        }
        self._registry = registry_grpc.RegistryServiceStub(self._channels["registry"])
        self._pool = pool_grpc.PoolServiceStub(self._channels["pool"])
        self._dispatcher = dispatcher_grpc.DispatcherServiceStub(self._channels["dispatcher"])

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close(None)

    async def __aenter__(self) -> SchedulerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(
        self, service: str, method: str, call: Callable[..., Awaitable[T]], request: Any, what: str
    ) -> T:
        try:
            return await call(
                request,
                timeout=self._timeout_s,
                metadata=self._credentials.metadata(api_of(method)),
            )
        except grpc.aio.AioRpcError as error:
            address = getattr(self.endpoints, service)
            raise OpsError(describe(error, service, address, what), error.code().name) from None

    # --- registry -------------------------------------------------------------------------

    async def list_nodes(self, limit: int = DEFAULT_NODE_LIMIT) -> tuple[list[node_pb2.Node], bool]:
        """Up to `limit` nodes, and whether there were more."""
        nodes: list[node_pb2.Node] = []
        token = ""
        while True:
            reply = await self._call(
                "registry",
                "ListNodes",
                self._registry.ListNodes,
                registry_pb.ListNodesRequest(page_size=PAGE_SIZE, page_token=token),
                "listing nodes",
            )
            nodes.extend(reply.nodes)
            token = reply.next_page_token
            if not token or len(nodes) >= limit:
                return nodes[:limit], bool(token) or len(nodes) > limit

    async def get_node(self, node_id: str) -> node_pb2.Node:
        reply = await self._call(
            "registry",
            "GetNode",
            self._registry.GetNode,
            registry_pb.GetNodeRequest(node_id=node_id),
            f"node {node_id}",
        )
        node: node_pb2.Node = reply.node
        return node

    async def drain_node(self, node_id: str, reason: str) -> int:
        reply = await self._call(
            "registry",
            "DrainNode",
            self._registry.DrainNode,
            registry_pb.DrainNodeRequest(node_id=node_id, reason=reason),
            f"draining node {node_id}",
        )
        status: int = reply.status
        return status

    # --- pool -------------------------------------------------------------------------------

    async def list_pools(self, limit: int = DEFAULT_POOL_LIMIT) -> list[pool_pb.Pool]:
        pools: list[pool_pb.Pool] = []
        token = ""
        while True:
            reply = await self._call(
                "pool",
                "ListPools",
                self._pool.ListPools,
                pool_pb.ListPoolsRequest(page_size=PAGE_SIZE, page_token=token),
                "listing pools",
            )
            pools.extend(reply.pools)
            token = reply.next_page_token
            if not token or len(pools) >= limit:
                return pools[:limit]

    # --- dispatcher ---------------------------------------------------------------------------

    async def list_jobs(
        self,
        *,
        state: int = job_pb2.JOB_STATE_UNSPECIFIED,
        session_id: str = "",
        node_id: str = "",
        limit: int = 50,
    ) -> list[job_pb2.Job]:
        jobs: list[job_pb2.Job] = []
        token = ""
        while len(jobs) < limit:
            reply = await self._call(
                "dispatcher",
                "ListJobs",
                self._dispatcher.ListJobs,
                dispatcher_pb.ListJobsRequest(
                    state=state,  # type: ignore[arg-type]
                    session_id=session_id,
                    node_id=node_id,
                    page_size=min(PAGE_SIZE, limit - len(jobs)),
                    page_token=token,
                ),
                "listing jobs",
            )
            jobs.extend(reply.jobs)
            token = reply.next_page_token
            if not token:
                break
        return jobs[:limit]

    async def get_job(self, job_id: str) -> job_pb2.Job:
        reply = await self._call(
            "dispatcher",
            "GetJob",
            self._dispatcher.GetJob,
            dispatcher_pb.GetJobRequest(job_id=job_id),
            f"job {job_id}",
        )
        job: job_pb2.Job = reply.job
        return job

    async def cancel_job(self, job_id: str, reason: str) -> job_pb2.Job:
        reply = await self._call(
            "dispatcher",
            "CancelJob",
            self._dispatcher.CancelJob,
            dispatcher_pb.CancelJobRequest(job_id=job_id, reason=reason),
            f"cancelling job {job_id}",
        )
        job: job_pb2.Job = reply.job
        return job

    async def submit_job(self, request: dispatcher_pb.SubmitJobRequest) -> job_pb2.Job:
        reply = await self._call(
            "dispatcher", "SubmitJob", self._dispatcher.SubmitJob, request, "submitting the job"
        )
        job: job_pb2.Job = reply.job
        return job

    async def watch_job(
        self, job_id: str, timeout_s: float
    ) -> AsyncIterator[dispatcher_pb.WatchJobResponse]:
        """The job's events until it ends (the stream is bounded by `timeout_s`)."""
        call = self._dispatcher.WatchJob(
            dispatcher_pb.WatchJobRequest(job_id=job_id),
            timeout=timeout_s,
            metadata=self._credentials.metadata(api_of("WatchJob")),
        )
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as error:
            what = f"watching job {job_id}"
            message = describe(error, "dispatcher", self.endpoints.dispatcher, what)
            raise OpsError(message, error.code().name) from None
        finally:
            call.cancel()
