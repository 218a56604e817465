"""A dead or unreachable dependency gives a clear answer, never UNKNOWN or
INTERNAL_ERROR: with the pool service gone, jobs are placed from the dispatcher's own
copy of the index; with no copy either, SCHEDULER_DEPENDENCY_DOWN; with the registry
gone, a node's registration is refused as a passing failure; with Redis gone, the team
API answers UNAVAILABLE."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.errors import ERROR_CODE_METADATA_KEY
from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, register_message, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tests.suite import InProcessSuite, team_address
from tools.launcher.redis_server import RedisServer

ANSWERS = ("translation_result", "error", "missing_result")


def dead_address() -> str:
    """A loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def submit_request(index: int) -> pb.SubmitJobRequest:
    return pb.SubmitJobRequest(
        request_id=f"r{index}",
        tenant_id="team-a",
        src_lang="zh",
        tgt_lang="en",
        audio=b"pcm",
        audio_format="pcm16",
        sample_rate=16000,
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True),
        fail_fast=True,
    )


def wire_code(error: grpc.aio.AioRpcError) -> str:
    for key, value in error.trailing_metadata() or ():
        if key == ERROR_CODE_METADATA_KEY:
            return str(value)
    return ""


async def answer(client: Peer) -> dict[str, object]:
    while True:
        message = await client.recv(wait_s=15)
        if message["type"] in ANSWERS:
            return message


async def test_with_the_pool_service_gone_jobs_are_placed_from_the_replica(
    suite: InProcessSuite,
) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"warm up"))
    await node.send(result_for(await node.expect("job_assign", wait_s=10), node_id, "t0"))
    assert (await answer(client))["type"] == "translation_result"
    await suite.pool.stop()  # gone for good
    for index in range(1, 6):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
        assign = await node.expect("job_assign", wait_s=10)
        await node.send(result_for(assign, node_id, f"t{index}"))
        got = await answer(client)
        assert (got["type"], got["utterance_index"]) == ("translation_result", index), got
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        submitted = await pb_grpc.DispatcherServiceStub(channel).SubmitJob(submit_request(1))
    assert submitted.job.state == job_pb2.JOB_STATE_DISPATCHED
    await node.close()
    await client.close()


@pytest.fixture
async def no_index(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    """A dispatcher whose pool service was never reachable: no copy of the index."""
    running = await InProcessSuite(
        redis_settings, gateways=1, dispatcher_overrides={"pool_address": dead_address()}
    ).start()
    yield running
    await running.stop()


async def test_with_no_pool_and_no_copy_of_the_index_the_answer_is_dependency_down(
    no_index: InProcessSuite,
) -> None:
    client, session_id = await open_session(no_index.ws_url())
    await client.send(utterance_message(session_id, 0, b"anyone?"))
    error = await answer(client)
    assert (error["type"], error["code"]) == ("error", "SCHEDULER_DEPENDENCY_DOWN"), error
    async with grpc.aio.insecure_channel(team_address(no_index.dispatcher)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.DispatcherServiceStub(channel).SubmitJob(submit_request(2))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert wire_code(refused.value) == "SCHEDULER_DEPENDENCY_DOWN"
    await client.close()


async def test_with_the_registry_gone_a_registration_is_a_passing_failure(
    suite: InProcessSuite,
) -> None:
    await suite.registry.stop()
    node = await Peer.open(suite.ws_url(0) + "/ws/node")
    await node.send(register_message())
    error = await node.expect("error", wait_s=10)
    assert error["code"] == "SCHEDULER_DEPENDENCY_DOWN"
    await node.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


async def test_with_redis_gone_the_team_api_answers_unavailable_not_unknown(
    own_redis: RedisServer,
) -> None:
    suite = await InProcessSuite(RedisSettings(url=own_redis.url), gateways=1).start()
    try:
        own_redis.kill()
        async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
            stub = pb_grpc.DispatcherServiceStub(channel)
            calls = [
                stub.SubmitJob(submit_request(3)),
                stub.GetJob(pb.GetJobRequest(job_id="j-1")),
                stub.CancelJob(pb.CancelJobRequest(job_id="j-1")),
                stub.ListJobs(pb.ListJobsRequest()),
            ]
            for call in calls:
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await call
                assert failed.value.code() == grpc.StatusCode.UNAVAILABLE, failed.value
                assert wire_code(failed.value) == "SCHEDULER_DEPENDENCY_DOWN"
        client = await Peer.open(suite.ws_url() + "/ws/session")
        await client.send(
            {
                "type": "session_init",
                "client_version": "t/1",
                "platform": "web",
                "src_lang": "zh",
                "tgt_lang": "en",
            }
        )
        error = await client.expect("error", wait_s=10)
        assert error["code"] == "SCHEDULER_DEPENDENCY_DOWN"
        await client.close()
    finally:
        own_redis.spawn()
        own_redis.wait_ready()
        await suite.stop()
