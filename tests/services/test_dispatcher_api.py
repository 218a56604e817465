"""The dispatcher's gRPC API for internal teams: submit, watch, list, get, cancel."""

from __future__ import annotations

import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from tests.peers import open_session, registered_node, utterance_message
from tests.services.lifecycle_helpers import dispatcher_places_on, wait_status
from tests.suite import InProcessSuite, team_address


def submit_request(**overrides: object) -> pb.SubmitJobRequest:
    fields: dict[str, object] = {
        "request_id": "team-a/1",
        "tenant_id": "team-a",
        "audio": b"\x01\x02pcm",
        "audio_format": "pcm16",
        "sample_rate": 16000,
        "src_lang": "zh",
        "tgt_lang": "en",
    }
    fields.update(overrides)
    return pb.SubmitJobRequest(**fields)  # type: ignore[arg-type]


def result_for(assign: dict[str, object], node_id: str) -> dict[str, object]:
    return {
        "type": "job_result",
        "job_id": assign["job_id"],
        "attempt_id": assign["attempt_id"],
        "node_id": node_id,
        "session_id": assign["session_id"],
        "utterance_index": assign["utterance_index"],
        "success": True,
        "trace_id": assign["trace_id"],
        "text_asr": "ni hao",
        "text_translated": "hello",
    }


async def test_submit_then_watch_to_the_result(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await dispatcher_places_on(suite, 1)
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        submitted = await stub.SubmitJob(submit_request())
        assert submitted.created
        job = submitted.job
        assert (job.state, job.tenant_id, job.node_id) == (
            job_pb2.JOB_STATE_DISPATCHED,
            "team-a",
            node_id,
        )
        again = await stub.SubmitJob(submit_request())  # same request id: same job
        assert (again.created, again.job.job_id) == (False, job.job_id)
        assign = await node.expect("job_assign")
        assert assign["job_id"] == job.job_id and assign["audio_format"] == "pcm16"
        watch = stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id))
        kinds = []
        first = await watch.read()
        kinds.append(first.kind)
        await node.send(result_for(assign, node_id))
        while (event := await watch.read()) is not grpc.aio.EOF:
            kinds.append(event.kind)
            last = event
        assert kinds[0] == pb.JOB_EVENT_KIND_DISPATCHED
        assert kinds[-1] == pb.JOB_EVENT_KIND_COMPLETED
        assert last.job.result.text_translated == "hello"
        done = (await stub.GetJob(pb.GetJobRequest(job_id=job.job_id))).job
        assert done.state == job_pb2.JOB_STATE_COMPLETED
    await node.close()


async def test_bad_requests_and_unknown_jobs_get_proper_codes(suite: InProcessSuite) -> None:
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        for bad in (
            submit_request(audio=b""),
            submit_request(src_lang=""),
            submit_request(sample_rate=0),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.SubmitJob(bad)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for call in (
            stub.GetJob(pb.GetJobRequest(job_id="j-nope")),
            stub.CancelJob(pb.CancelJobRequest(job_id="j-nope")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await call
            assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            async for _ in stub.WatchJob(pb.WatchJobRequest(job_id="j-nope")):
                pass
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        # Nobody serves the pair: fail fast is RESOURCE_EXHAUSTED or UNAVAILABLE, never silence.
        with pytest.raises(grpc.aio.AioRpcError) as nobody:
            await stub.SubmitJob(submit_request(request_id="x", fail_fast=True, tgt_lang="ko"))
        assert nobody.value.code() in (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.UNAVAILABLE,
        )
        assert ("lingua-error-code", "NO_AVAILABLE_NODE") in tuple(nobody.value.trailing_metadata())


async def test_fail_fast_on_a_full_fleet_is_resource_exhausted(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await dispatcher_places_on(suite, 1)
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        for i in range(4):
            await stub.SubmitJob(submit_request(request_id=f"fill-{i}"))
        with pytest.raises(grpc.aio.AioRpcError) as full:
            await stub.SubmitJob(submit_request(request_id="one-more", fail_fast=True))
        assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Without fail_fast the same job waits in the queue instead.
        waiting = await stub.SubmitJob(submit_request(request_id="patient"))
        assert waiting.job.state == job_pb2.JOB_STATE_PENDING
    await node.close()


async def test_list_jobs_by_session_node_and_state(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    for index in range(3):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = sorted(
        [await node.expect("job_assign") for _ in range(3)], key=lambda a: a["utterance_index"]
    )
    await node.send(result_for(assigns[0], node_id))  # utterance 0 (jobs arrive in any order)
    await client.expect("translation_result")
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        by_session = await stub.ListJobs(pb.ListJobsRequest(session_id=session_id, page_size=2))
        assert [j.utterance_index for j in by_session.jobs] == [0, 1]
        rest = await stub.ListJobs(
            pb.ListJobsRequest(session_id=session_id, page_token=by_session.next_page_token)
        )
        assert [j.utterance_index for j in rest.jobs] == [2]
        on_node = await stub.ListJobs(pb.ListJobsRequest(node_id=node_id))
        assert sorted(j.utterance_index for j in on_node.jobs) == [1, 2]
        done = await stub.ListJobs(pb.ListJobsRequest(state=job_pb2.JOB_STATE_COMPLETED))
        assert [j.job_id for j in done.jobs] == [assigns[0]["job_id"]]
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.ListJobs(pb.ListJobsRequest(session_id=session_id, page_token="zz"))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await node.close()
