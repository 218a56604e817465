"""One utterance from client to node and back through the in-process suite."""

from __future__ import annotations

import asyncio
import base64

import grpc

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from tests.peers import open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tests.services.lifecycle_helpers import dispatcher_places_on, eventually
from tests.suite import InProcessSuite, team_address


async def running_slots(suite: InProcessSuite, node_id: str) -> int:
    client = connect(suite.redis)
    try:
        return int(await client.hlen(Keys(suite.redis.key_prefix).node_inflight(node_id)))
    finally:
        await client.aclose()


async def test_node_on_one_replica_client_on_the_other(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"hello audio"))
    assign = await node.expect("job_assign")
    assert base64.b64decode(assign["audio"]) == b"hello audio"
    assert assign["is_manual_cut"] is True
    assert assign["attempt_id"] == 1
    dispatched = await client.expect("ui_event", skip=())
    assert (dispatched["event"], dispatched["job_id"]) == ("DISPATCHED", assign["job_id"])
    assert await running_slots(suite, node_id) == 1
    await node.send(result_for(assign, node_id, "hello"))
    result = await client.expect("translation_result")
    assert result["text_asr"] == "hello"
    assert result["text_translated"] == "HELLO"
    assert result["trace_id"] == assign["trace_id"]
    assert (result["session_id"], result["utterance_index"]) == (session_id, 0)

    async def released() -> bool:  # freed right after the answer, off its path
        return await running_slots(suite, node_id) == 0

    await eventually(released)
    await node.close()
    await client.close()


async def test_no_node_for_the_pair_answers_no_available_node(suite: InProcessSuite) -> None:
    node, _ = await registered_node(suite.ws_url(0), pairs=[("zh", "en")])
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(0), "en", "fr")
    await client.send(utterance_message(session_id, 0, b"bonjour", "en", "fr"))
    error = await client.expect("error")
    assert error["code"] == "NO_AVAILABLE_NODE"
    assert error["details"]["utterance_index"] == 0
    await node.close()
    await client.close()


async def test_results_reach_the_client_in_utterance_order(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(1))
    assigns = []
    for index in range(3):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
        assigns.append(await node.expect("job_assign"))
    # The node answers backwards; the client still sees 0, 1, 2.
    for assign in reversed(assigns):
        await node.send(result_for(assign, node_id, f"t{assign['utterance_index']}"))
    seen = [(await client.expect("translation_result"))["utterance_index"] for _ in range(3)]
    assert seen == [0, 1, 2]
    await node.close()
    await client.close()


async def test_duplicate_and_stale_results_change_nothing(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(0))
    await client.send(utterance_message(session_id, 0, b"once"))
    assign = await node.expect("job_assign")
    await node.send(result_for(assign, node_id, "first"))
    await node.send(result_for(assign, node_id, "second"))
    await node.send({**result_for(assign, node_id, "stale"), "attempt_id": 7})
    # Both duplicates are of the live attempt; whichever lands first wins, once.
    assert (await client.expect("translation_result"))["text_asr"] in ("first", "second")
    await client.send(utterance_message(session_id, 1, b"next"))
    assign = await node.expect("job_assign")
    await node.send(result_for(assign, node_id, "next"))
    # The next thing the client sees is utterance 1, not a second answer for 0.
    following = await client.expect("translation_result")
    assert (following["utterance_index"], following["text_asr"]) == (1, "next")
    assert await running_slots(suite, node_id) == 0
    await node.close()
    await client.close()


async def test_the_same_utterance_sent_twice_is_dispatched_once(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(0))
    await client.send(utterance_message(session_id, 5, b"again"))
    await client.send(utterance_message(session_id, 5, b"again"))
    assert (await client.expect("error", skip=("ui_event",)))["code"] == "INVALID_MESSAGE"
    assign = await node.expect("job_assign")
    await node.send(result_for(assign, node_id, "x"))
    assert (await client.expect("translation_result"))["utterance_index"] == 5
    try:
        extra = await node.recv(wait_s=0.3)
    except TimeoutError:
        extra = None
    assert extra is None
    await node.close()
    await client.close()


async def test_concurrent_submissions_of_one_request_dispatch_once(
    suite: InProcessSuite,
) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    request = pb.SubmitJobRequest(
        request_id="req-1",
        tenant_id="team-a",
        src_lang="zh",
        tgt_lang="en",
        audio=b"pcm",
        audio_format="pcm16",
        sample_rate=16000,
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True),
    )
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        replies = await asyncio.gather(*(stub.SubmitJob(request) for _ in range(10)))
    assert sum(r.created for r in replies) == 1
    assert len({r.job.job_id for r in replies}) == 1
    await node.expect("job_assign")
    try:
        extra = await node.recv(wait_s=0.3)
    except TimeoutError:
        extra = None
    assert extra is None
    assert await running_slots(suite, node_id) == 1
    await node.close()


async def test_get_job_and_cancel_from_the_api(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"cancel me"))
    assign = await node.expect("job_assign")
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        job = (await stub.GetJob(pb.GetJobRequest(job_id=assign["job_id"]))).job
        assert (job.state, job.node_id) == (job_pb2.JOB_STATE_DISPATCHED, node_id)
        cancelled = (
            await stub.CancelJob(pb.CancelJobRequest(job_id=assign["job_id"], reason="test"))
        ).job
        assert cancelled.state == job_pb2.JOB_STATE_CANCELLED
        try:
            await stub.GetJob(pb.GetJobRequest(job_id="j-missing"))
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
        else:
            raise AssertionError("GetJob of an unknown job must fail")
    cancel = await node.expect("job_cancel")
    assert cancel["job_id"] == assign["job_id"]
    error = await client.expect("error")
    assert (error["code"], error["details"]["utterance_index"]) == ("JOB_CANCELLED", 0)
    assert await running_slots(suite, node_id) == 0
    # The node's late result for the cancelled job changes nothing.
    await node.send(result_for(assign, node_id, "late"))
    await asyncio.sleep(0.1)
    assert await running_slots(suite, node_id) == 0
    await node.close()
    await client.close()
