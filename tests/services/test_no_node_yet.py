"""A pair nobody serves *yet* (FAILURE_MODES #6): the pool index reaches the dispatcher a
moment after a node's registration is acknowledged, so a new job that finds nobody
waits a short while (LINGUA_NO_NODE_WAIT_MS) for a node before NO_AVAILABLE_NODE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.settings import RedisSettings
from tests.peers import Peer, heartbeat_message, open_session, register_message, utterance_message
from tests.services.gateway_helpers import ready_node, result_for
from tests.services.lifecycle_helpers import eventually
from tests.suite import InProcessSuite, team_address

NO_NODE_WAIT_MS = 1_500
# Pairs nobody else in the suite serves: a job for one can only go to the new node.
FRESH_PAIRS = (("ja", "ko"), ("ko", "ja"), ("fr", "de"), ("de", "fr"), ("es", "it"))


@pytest.fixture
async def suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(
        redis_settings, dispatcher_overrides={"no_node_wait_ms": NO_NODE_WAIT_MS}
    ).start()
    yield running
    await running.stop()


async def test_a_job_waits_for_the_first_node_of_its_pair(suite: InProcessSuite) -> None:
    client, session_id = await open_session(suite.ws_url(), "ja", "ko")
    await client.send(utterance_message(session_id, 0, b"konnichiwa", "ja", "ko"))

    async def waiting() -> bool:  # the job found nobody and waits
        async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
            reply = await pb_grpc.DispatcherServiceStub(channel).ListJobs(
                pb.ListJobsRequest(session_id=session_id)
            )
        return [job.state for job in reply.jobs] == [job_pb2.JOB_STATE_PENDING]

    await eventually(waiting)
    node, node_id = await ready_node(suite, pairs=(("ja", "ko"),))
    assign = await node.expect("job_assign", wait_s=NO_NODE_WAIT_MS / 1000)
    await node.send(result_for(assign, node_id, "annyeong"))
    answer = await client.expect("translation_result")
    assert (answer["utterance_index"], answer["text_asr"]) == (0, "annyeong")
    await asyncio.gather(client.close(), node.close())


async def test_nobody_comes_no_available_node_after_the_wait(suite: InProcessSuite) -> None:
    client, session_id = await open_session(suite.ws_url(), "en", "fr")
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    await client.send(utterance_message(session_id, 0, b"hello", "en", "fr"))
    error = await client.expect("error")
    waited = loop.time() - sent_at
    assert error["code"] == "NO_AVAILABLE_NODE"
    assert error["details"]["utterance_index"] == 0
    assert NO_NODE_WAIT_MS / 1000 <= waited < NO_NODE_WAIT_MS / 1000 + 2.0, waited
    await client.close()


async def test_a_job_sent_the_moment_a_node_is_acknowledged_reaches_it(
    suite: InProcessSuite,
) -> None:
    url = suite.ws_url()
    for src, tgt in FRESH_PAIRS:
        session, session_id = await open_session(url, src, tgt)
        node = await Peer.open(url + "/ws/node")
        await node.send(register_message(((src, tgt),)))
        ack = await node.expect("node_register_ack")
        await session.send(utterance_message(session_id, 0, b"audio", src, tgt))
        await node.send(heartbeat_message(ack["node_id"]))  # ready: it may take jobs
        assign = await node.expect("job_assign", skip=("node_control", "ui_event"))
        assert (assign["src_lang"], assign["tgt_lang"]) == (src, tgt)
        await asyncio.gather(session.close(), node.close())
