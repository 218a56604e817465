"""Who may call what (DESIGN.md), against the whole suite with authentication on: every
service presents the service credential to the others, internal teams call the team
API with their tokens, and each attack of issue 15 is refused.

- no credentials, or wrong ones: UNAUTHENTICATED on every API (health and reflection
  stay open);
- a team's token on the service-to-service API (registry, pool, gateway, and the job
  path's GatewayLink, where a result would be injected): PERMISSION_DENIED;
- another tenant's job: NOT_FOUND for get, cancel and watch, never listed;
- the same request id from two tenants: two jobs; a request id shaped like a WebSocket
  session's job: another job, and the session's utterance is answered as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2_grpc as link_grpc
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.api_auth import ApiAuthSettings
from lingua_common.ids import job_id_for
from lingua_common.link import STREAM_END
from lingua_common.operator_auth import TokenTable
from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import ready_node, result_for
from tests.services.test_dispatcher_api import submit_request
from tests.suite import LOCAL, InProcessSuite, grpc_address, team_address

SERVICE_TOKEN = "service-secret-of-the-scheduler"
ACME, GLOBEX, OPERATOR = "acme-token", "globex-token", "operator-token"
TEAM_TOKENS = f"{ACME}:acme,{GLOBEX}:globex,{OPERATOR}:*"
INJECTED = "INJECTED BY API CALLER"


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def submit(request_id: str, **overrides: object) -> pb.SubmitJobRequest:
    # Without a tenant of its own: the caller's token names it.
    return submit_request(**{"request_id": request_id, "tenant_id": "", **overrides})


@pytest.fixture
async def suite(single_redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    auth = ApiAuthSettings(
        disabled=False, service_token=SERVICE_TOKEN, team_tokens=TokenTable.parse(TEAM_TOKENS)
    )
    running = await InProcessSuite(
        single_redis_settings, server=dataclasses.replace(LOCAL, auth=auth)
    ).start()
    yield running
    await running.stop()


@pytest.fixture
async def team(suite: InProcessSuite) -> AsyncIterator[pb_grpc.DispatcherServiceStub]:
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        yield pb_grpc.DispatcherServiceStub(channel)


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call  # type: ignore[misc]
    return refused.value.code()


async def link_code(
    channel: grpc.aio.Channel, metadata: tuple[tuple[str, str], ...], *frames: object
) -> grpc.StatusCode:
    """How a link opened with these credentials and these frames ends: the server's
    status."""
    link = link_grpc.GatewayLinkServiceStub(channel).Link(metadata=metadata)
    # A refused link ends before it takes a frame: read its status first. (A frame
    # written while the server ends the call makes grpc.aio report an INTERNAL of its
    # own, "execute_batch", in place of the server's status.)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(link.code()), timeout=1.0)
    if not link.done():
        # Let in: what the frames then get (a welcome first, the status at the end).
        for frame in frames:
            await link.write(frame)
        await link.done_writing()
        with contextlib.suppress(grpc.aio.AioRpcError):
            while await link.read() is not STREAM_END:
                pass
    return await link.code()


HELLO = link_pb.LinkRequest(hello=link_pb.LinkHello(gateway_id="intruder"))


# --- credentials ----------------------------------------------------------------------------


async def test_missing_and_wrong_credentials_are_unauthenticated_on_every_api(
    suite: InProcessSuite, team: pb_grpc.DispatcherServiceStub
) -> None:
    for metadata in ((), bearer("not-a-token"), (("authorization", f"Basic {ACME}"),)):
        for call in (
            team.SubmitJob(submit("x/1"), metadata=metadata),
            team.GetJob(pb.GetJobRequest(job_id="j-1"), metadata=metadata),
            team.ListJobs(pb.ListJobsRequest(), metadata=metadata),
            team.CancelJob(pb.CancelJobRequest(job_id="j-1"), metadata=metadata),
        ):
            assert await code_of(call) is grpc.StatusCode.UNAUTHENTICATED
        watch = team.WatchJob(pb.WatchJobRequest(job_id="j-1"), metadata=metadata)
        assert await code_of(watch.read()) is grpc.StatusCode.UNAUTHENTICATED
        for code in await service_api_codes(suite, metadata):
            assert code is grpc.StatusCode.UNAUTHENTICATED
    # The message says what to send, and never echoes what was sent.
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await team.ListJobs(pb.ListJobsRequest())
    assert "authorization: Bearer" in (missing.value.details() or "")


async def test_health_and_reflection_stay_open_on_both_ports(suite: InProcessSuite) -> None:
    for address in (grpc_address(suite.dispatcher), team_address(suite.dispatcher)):
        async with grpc.aio.insecure_channel(address) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest()
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        listed = {s.name async for r in stream for s in r.list_services_response.service}
    # The team port serves the team API and nothing of the service-to-service API.
    assert "lingua.dispatcher.v1.DispatcherService" in listed
    assert "lingua.dispatcher.v1.GatewayLinkService" not in listed


async def test_each_api_lives_on_its_own_port(suite: InProcessSuite) -> None:
    async with grpc.aio.insecure_channel(grpc_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        call = stub.ListJobs(pb.ListJobsRequest(), metadata=bearer(SERVICE_TOKEN))
        assert await code_of(call) is grpc.StatusCode.UNIMPLEMENTED
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        code = await link_code(channel, bearer(SERVICE_TOKEN), HELLO)
        assert code is grpc.StatusCode.UNIMPLEMENTED


async def test_a_team_token_never_calls_the_service_to_service_api(
    suite: InProcessSuite,
) -> None:
    for token in (ACME, OPERATOR):  # not even an operator's team token
        for code in await service_api_codes(suite, bearer(token)):
            assert code is grpc.StatusCode.PERMISSION_DENIED


async def test_a_result_cannot_be_injected_on_a_link(suite: InProcessSuite) -> None:
    """Issue 15's attack (then CompleteJob with a job's (job, node, attempt)): now a
    NodeReport on a link of one's own. The link is refused; the client gets the node's
    answer, not the caller's."""
    node, node_id = await ready_node(suite)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"audio"))
    assign = await node.expect("job_assign")
    report = link_pb.GatewayMessage(
        seq=1,
        report=link_pb.NodeReport(
            job_id=assign["job_id"],
            node_id=node_id,
            attempt_id=assign["attempt_id"],
            result=job_pb2.JobResult(success=True, text_asr=INJECTED, text_translated=INJECTED),
        ),
    )
    for token in (ACME, OPERATOR, "guessed"):
        async with grpc.aio.insecure_channel(grpc_address(suite.dispatcher)) as channel:
            code = await link_code(
                channel,
                bearer(token),
                link_pb.LinkRequest(hello=link_pb.LinkHello(gateway_id="gw-0")),
                link_pb.LinkRequest(batch=link_pb.GatewayBatch(messages=[report])),
            )
            assert code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
    await node.send(result_for(assign, node_id, "ni hao"))
    answer = await client.expect("translation_result")
    assert (answer["text_asr"], answer["text_translated"]) == ("ni hao", "NI HAO")
    for peer in (node, client):
        await peer.close()


async def service_api_codes(
    suite: InProcessSuite, metadata: tuple[tuple[str, str], ...]
) -> list[grpc.StatusCode]:
    """What each service-to-service API answers to these credentials."""
    codes = []
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        registry = registry_grpc.RegistryServiceStub(channel)
        codes.append(
            await code_of(registry.ListNodes(registry_pb.ListNodesRequest(), metadata=metadata))
        )
        codes.append(
            await code_of(
                registry.DrainNode(registry_pb.DrainNodeRequest(node_id="n"), metadata=metadata)
            )
        )
    async with grpc.aio.insecure_channel(grpc_address(suite.pool)) as channel:
        pool = pool_grpc.PoolServiceStub(channel)
        codes.append(
            await code_of(
                pool.RemoveNode(pool_pb.RemoveNodeRequest(node_id="n"), metadata=metadata)
            )
        )
    async with grpc.aio.insecure_channel(grpc_address(suite.gateway_apps[0])) as channel:
        gateway = gw_grpc.GatewayServiceStub(channel)
        codes.append(
            await code_of(
                gateway.DisconnectNode(
                    gw_pb.DisconnectNodeRequest(node_id="n", epoch=1), metadata=metadata
                )
            )
        )
    async with grpc.aio.insecure_channel(grpc_address(suite.dispatcher)) as channel:
        codes.append(await link_code(channel, metadata, HELLO))
    return codes


# --- tenants ----------------------------------------------------------------------------------


async def test_a_tenant_sees_lists_watches_and_cancels_only_its_own_jobs(
    suite: InProcessSuite, team: pb_grpc.DispatcherServiceStub
) -> None:
    node, _ = await ready_node(suite)
    acme_job = (await team.SubmitJob(submit("batch/1"), metadata=bearer(ACME))).job
    assert acme_job.tenant_id == "acme" and acme_job.request_id == "batch/1"
    await node.expect("job_assign")
    globex = bearer(GLOBEX)

    # Another tenant's job is answered exactly as a job that does not exist.
    for job_id in (acme_job.job_id, job_id_for("no-such-request")):
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await team.GetJob(pb.GetJobRequest(job_id=job_id), metadata=globex)
        assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
        assert hidden.value.details() == f"no job {job_id}"
        cancel = team.CancelJob(pb.CancelJobRequest(job_id=job_id), metadata=globex)
        assert await code_of(cancel) is grpc.StatusCode.NOT_FOUND
        watch = team.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=globex)
        assert await code_of(watch.read()) is grpc.StatusCode.NOT_FOUND
    still = (await team.GetJob(pb.GetJobRequest(job_id=acme_job.job_id), metadata=bearer(ACME))).job
    assert still.state == job_pb2.JOB_STATE_DISPATCHED  # globex's cancel changed nothing

    # Listings: each tenant its own (by state, by node), an operator every tenant's.
    globex_job = (await team.SubmitJob(submit("batch/1", fail_fast=True), metadata=globex)).job
    listed = {
        name: [j.job_id for j in (await team.ListJobs(request, metadata=bearer(token))).jobs]
        for name, token, request in (
            ("acme", ACME, pb.ListJobsRequest()),
            ("globex", GLOBEX, pb.ListJobsRequest()),
            ("acme dispatched", ACME, pb.ListJobsRequest(state=job_pb2.JOB_STATE_DISPATCHED)),
            ("globex on the node", GLOBEX, pb.ListJobsRequest(node_id=acme_job.node_id)),
            ("operator", OPERATOR, pb.ListJobsRequest()),
        )
    }
    assert listed["acme"] == listed["acme dispatched"] == [acme_job.job_id]
    assert listed["globex"] == [globex_job.job_id]
    assert listed["globex on the node"] == [globex_job.job_id]  # its own, not acme's
    assert set(listed["operator"]) == {acme_job.job_id, globex_job.job_id}
    # A team names no other tenant than its own; an operator may.
    named = team.SubmitJob(submit("batch/2", tenant_id="globex"), metadata=bearer(ACME))
    assert await code_of(named) is grpc.StatusCode.PERMISSION_DENIED
    on_behalf = await team.SubmitJob(
        submit("batch/3", tenant_id="globex", fail_fast=True), metadata=bearer(OPERATOR)
    )
    assert on_behalf.job.tenant_id == "globex"
    await node.close()


async def test_request_ids_collide_neither_across_tenants_nor_with_sessions(
    suite: InProcessSuite, team: pb_grpc.DispatcherServiceStub
) -> None:
    node, node_id = await ready_node(suite)
    client, session_id = await open_session(suite.ws_url())
    session_request = f"{session_id}:0:en"
    # A team picks the request id of the session's next utterance, before it is spoken.
    taken = (await team.SubmitJob(submit(session_request), metadata=bearer(ACME))).job
    assert taken.job_id != job_id_for(session_request)
    first_assign = await node.expect("job_assign")
    assert first_assign["job_id"] == taken.job_id
    await node.send(result_for(first_assign, node_id, "team audio"))
    # The session's utterance 0 is a job of its own, answered with its own result.
    await client.send(utterance_message(session_id, 0, b"session audio"))
    assign = await node.expect("job_assign")
    assert assign["job_id"] == job_id_for(session_request)
    await node.send(result_for(assign, node_id, "session words"))
    answer = await client.expect("translation_result")
    assert answer["text_asr"] == "session words"
    # …and no team sees it, neither by id nor by listing the session.
    hidden = team.GetJob(pb.GetJobRequest(job_id=assign["job_id"]), metadata=bearer(ACME))
    assert await code_of(hidden) is grpc.StatusCode.NOT_FOUND
    by_session = await team.ListJobs(
        pb.ListJobsRequest(session_id=session_id), metadata=bearer(ACME)
    )
    assert list(by_session.jobs) == []

    # The same request id from two tenants: two jobs, each its tenant's own.
    acme = await team.SubmitJob(submit("nightly/7", fail_fast=True), metadata=bearer(ACME))
    globex = await team.SubmitJob(submit("nightly/7", fail_fast=True), metadata=bearer(GLOBEX))
    assert acme.created and globex.created
    assert acme.job.job_id != globex.job.job_id
    again = await team.SubmitJob(submit("nightly/7", fail_fast=True), metadata=bearer(ACME))
    assert (again.created, again.job.job_id) == (False, acme.job.job_id)
    for peer in (node, client):
        await peer.close()


async def test_a_team_watches_its_job_to_the_result(
    suite: InProcessSuite, team: pb_grpc.DispatcherServiceStub
) -> None:
    node, node_id = await ready_node(suite)
    job = (await team.SubmitJob(submit("watched/1"), metadata=bearer(ACME))).job
    assign = await node.expect("job_assign")
    watch = team.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=bearer(ACME))
    first = await watch.read()
    assert first.kind == pb.JOB_EVENT_KIND_DISPATCHED
    await node.send(result_for(assign, node_id, "ni hao"))
    last = first
    while (event := await asyncio.wait_for(watch.read(), 10)) is not grpc.aio.EOF:
        last = event
    assert last.kind == pb.JOB_EVENT_KIND_COMPLETED
    assert last.job.result.text_translated == "NI HAO"
    await node.close()


async def test_the_services_reach_each_other_with_their_credential(
    suite: InProcessSuite,
) -> None:
    """Registration (gateway -> registry -> pool), the job path (gateway <-> dispatcher
    links) and delivery all run authenticated: a WebSocket utterance is answered."""
    node, node_id = await ready_node(suite)
    client: Peer
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"audio"))
    assign = await node.expect("job_assign")
    await node.send(result_for(assign, node_id, "hello"))
    assert (await client.expect("translation_result"))["text_asr"] == "hello"
    for peer in (node, client):
        await peer.close()
