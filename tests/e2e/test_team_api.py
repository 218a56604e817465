"""An internal team against the whole suite as processes, authentication on: every
service presents the generated service credential to the others, a node and a web
client present their token and key, and the team calls the dispatcher's team port with
its own token. It submits audio, watches it to the result, and cannot see the WebSocket
session's job; an operator's token sees both."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from lingua.common.v1 import job_pb2, node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.ids import job_id_for
from tests.peers import Peer, heartbeat_message, register_message, utterance_message
from tests.services.gateway_helpers import result_for
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("auth-stack")
    config = StackConfig(
        gateway_ws_ports=(0,), run_dir=run_dir, env={"LINGUA_AUTH_DISABLED": "false"}
    )
    running = Stack(config).start()
    yield running
    codes = running.stop()
    assert all(code == 0 for code in codes.values()), codes


async def node_answering(stack: Stack) -> tuple[Peer, str]:
    """A node with the stack's node token, registered and ready."""
    credentials = stack.credentials
    node = await Peer.open(f"{stack.gateway_urls[0]}/ws/node?token={credentials.node_token}")
    await node.send(register_message((("zh", "en"),)))
    node_id = (await node.expect("node_register_ack"))["node_id"]
    await node.send(heartbeat_message(node_id))
    assert stack.registry is not None
    async with grpc.aio.insecure_channel(stack.registry.grpc_address) as channel:
        registry = registry_grpc.RegistryServiceStub(channel)
        for _ in range(200):
            reply = await registry.GetNode(
                registry_pb.GetNodeRequest(node_id=node_id),
                metadata=bearer(credentials.service_token),
            )
            if reply.node.status == node_pb2.NODE_STATUS_READY:
                return node, node_id
            await asyncio.sleep(0.05)
    raise AssertionError("the node never became ready")


async def test_a_team_submits_and_watches_its_job_and_cannot_see_a_sessions_job(
    stack: Stack,
) -> None:
    team_token, tenant = stack.credentials.team
    node, node_id = await node_answering(stack)
    key = stack.credentials.client_key
    client = await Peer.open(f"{stack.gateway_urls[0]}/ws/session?api_key={key}")
    await client.send(
        {
            "type": "session_init",
            "client_version": "e2e/1",
            "platform": "web",
            "src_lang": "zh",
            "tgt_lang": "en",
        }
    )
    session_id = (await client.expect("session_init_ack"))["session_id"]
    await client.send(utterance_message(session_id, 0, b"session audio"))
    session_assign = await node.expect("job_assign")
    await node.send(result_for(session_assign, node_id, "session words"))
    assert (await client.expect("translation_result"))["text_asr"] == "session words"
    session_job = job_id_for(f"{session_id}:0:en")
    assert session_assign["job_id"] == session_job

    async with grpc.aio.insecure_channel(stack.team_address) as channel:
        team = pb_grpc.DispatcherServiceStub(channel)
        # Without its token the team gets nowhere.
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await team.ListJobs(pb.ListJobsRequest())
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED

        submitted = await team.SubmitJob(
            pb.SubmitJobRequest(
                request_id="e2e/1",
                audio=b"\x00\x01" * 800,
                audio_format="pcm16",
                sample_rate=16000,
                src_lang="zh",
                tgt_lang="en",
            ),
            metadata=bearer(team_token),
        )
        job = submitted.job
        assert job.tenant_id == tenant and job.request_id == "e2e/1"
        watch = team.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=bearer(team_token))
        assign = await node.expect("job_assign")
        assert assign["job_id"] == job.job_id
        await node.send(result_for(assign, node_id, "team words"))
        kinds = []
        while (event := await asyncio.wait_for(watch.read(), 30)) is not grpc.aio.EOF:
            kinds.append(event.kind)
            last = event
        assert kinds[-1] == pb.JOB_EVENT_KIND_COMPLETED
        assert last.job.result.text_asr == "team words"
        assert last.job.state == job_pb2.JOB_STATE_COMPLETED

        # The session's job is not the team's to see: by id, by session, or in a listing.
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await team.GetJob(pb.GetJobRequest(job_id=session_job), metadata=bearer(team_token))
        assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
        by_session = await team.ListJobs(
            pb.ListJobsRequest(session_id=session_id), metadata=bearer(team_token)
        )
        assert list(by_session.jobs) == []
        mine = await team.ListJobs(pb.ListJobsRequest(), metadata=bearer(team_token))
        assert [j.job_id for j in mine.jobs] == [job.job_id]
        # An operator sees every tenant's jobs, the session's too.
        everything = await team.ListJobs(
            pb.ListJobsRequest(), metadata=bearer(stack.credentials.operator_token)
        )
        assert {job.job_id, session_job} <= {j.job_id for j in everything.jobs}
    for peer in (node, client):
        await peer.close()
