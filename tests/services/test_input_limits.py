"""Issue 15's wrong answers, each now INVALID_ARGUMENT / INVALID_MESSAGE naming the field
and showing at most a short prefix of what was sent, at both edges (the team API and the
gateway's WebSockets), with nothing created and no log line grown with the input."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.errors import ERROR_CODE_METADATA_KEY
from tests.peers import (
    Peer,
    heartbeat_message,
    open_session,
    register_message,
    utterance_message,
)
from tests.services.lifecycle_helpers import wait_status
from tests.services.test_dispatcher_api import submit_request
from tests.suite import InProcessSuite, team_address

# An error message names the field and shows a short prefix: never this long.
MAX_DETAILS = 240
# A log line (message and fields) caused by a request never grows with the request.
MAX_LOG_LINE = 4096


def submit(**overrides: object) -> pb.SubmitJobRequest:
    return submit_request(**{"request_id": "limits/1", "tenant_id": "", **overrides})


WRONG_ARGUMENTS = [
    ("GetJob", pb.GetJobRequest(job_id=""), "job_id"),
    ("GetJob", pb.GetJobRequest(job_id="j" * 100_000), "job_id"),
    ("CancelJob", pb.CancelJobRequest(job_id=""), "job_id"),
    ("WatchJob", pb.WatchJobRequest(job_id=""), "job_id"),
    ("ListJobs", pb.ListJobsRequest(session_id="sess-1", page_token="1" + "0" * 30), "page_token"),
    ("ListJobs", pb.ListJobsRequest(page_token="abc"), "page_token"),
    ("ListJobs", pb.ListJobsRequest(page_size=1_000_000), "page_size"),
    ("ListJobs", pb.ListJobsRequest(session_id="s" * 100_000), "session_id"),
    ("ListJobs", pb.ListJobsRequest(state=99), "state"),  # type: ignore[arg-type]
    ("SubmitJob", submit(request_id="r" * 100_000), "request_id"),
    ("SubmitJob", submit(src_lang="z" * 100_000), "src_lang"),
    ("SubmitJob", submit(tgt_lang="english please"), "tgt_lang"),
    ("SubmitJob", submit(tenant_id="acme\x00"), "tenant_id"),
    ("SubmitJob", submit(tenant_id="a:b"), "tenant_id"),
    ("SubmitJob", submit(sample_rate=2**32 - 1), "sample_rate"),
    ("SubmitJob", submit(audio_format="wav;$(reboot)"), "audio_format"),
    ("SubmitJob", submit(audio=b""), "audio"),
    ("SubmitJob", submit(audio=b"x" * (4 * 1024 * 1024 + 1)), "audio"),
    ("SubmitJob", submit(auto_langs=["zh"] * 17), "auto_langs"),
]


@pytest.fixture
async def team(suite: InProcessSuite) -> AsyncIterator[pb_grpc.DispatcherServiceStub]:
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        yield pb_grpc.DispatcherServiceStub(channel)


async def test_the_team_api_refuses_each_wrong_argument_naming_the_field(
    suite: InProcessSuite, team: pb_grpc.DispatcherServiceStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for method, request, field in WRONG_ARGUMENTS:
        call = getattr(team, method)(request)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await (call.read() if method == "WatchJob" else call)
        error = refused.value
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, (method, field, error)
        details = error.details() or ""
        assert f"'{field}'" in details and len(details) <= MAX_DETAILS, (method, details)
        trailing = dict(error.trailing_metadata() or ())  # type: ignore[arg-type]
        assert trailing.get(ERROR_CODE_METADATA_KEY) == "INVALID_MESSAGE"
    assert list((await team.ListJobs(pb.ListJobsRequest())).jobs) == []  # nothing created
    assert max(len(r.getMessage()) + len(str(r.__dict__)) for r in caplog.records) < MAX_LOG_LINE


async def test_the_websocket_edge_refuses_huge_ids_and_language_names(
    suite: InProcessSuite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    node = await Peer.open(suite.ws_url() + "/ws/node")
    huge_id = register_message((("zh", "en"),))
    huge_id["node_id"] = "n" * 200_000
    await node.send(huge_id)
    error = await node.expect("error")
    assert error["code"] == "INVALID_MESSAGE" and "'node_id'" in error["message"]
    assert len(error["message"]) <= MAX_DETAILS
    huge_language = register_message((("zh", "en"),))
    huge_language["language_capabilities"]["asr_languages"] = ["l" * 900_000]
    await node.send(huge_language)
    error = await node.expect("error")
    assert "'language_capabilities.asr_languages[0]'" in error["message"]
    assert len(error["message"]) <= MAX_DETAILS
    # Not registered under either: the registry never heard of them.
    await node.send(register_message((("zh", "en"),)))
    node_id = (await node.expect("node_register_ack"))["node_id"]
    assert node_id != huge_id["node_id"]
    await node.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")

    client, session_id = await open_session(suite.ws_url())
    for field, value in (
        ("sample_rate", 2**32 - 1),
        ("audio_format", "wav;$(reboot)"),
        ("src_lang", "z" * 100_000),
        ("session_id", "s" * 100_000),
    ):
        bad = utterance_message(session_id, 0, b"x")
        bad[field] = value
        await client.send(bad)
        error = await client.expect("error")
        assert error["code"] == "INVALID_MESSAGE" and f"'{field}'" in error["message"], error
        assert len(error["message"]) <= MAX_DETAILS
    # The session carries on: a good utterance is still taken.
    await client.send(utterance_message(session_id, 0, b"good"))
    assign = await node.expect("job_assign")
    assert assign["utterance_index"] == 0
    for peer in (node, client):
        await peer.close()
    assert max(len(r.getMessage()) + len(str(r.__dict__)) for r in caplog.records) < MAX_LOG_LINE
