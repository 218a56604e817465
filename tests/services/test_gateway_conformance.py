"""Every PROTOCOL.md message type, in and out, through real WebSockets and the real
services; everything a peer receives is checked against the protocol tables strictly."""

from __future__ import annotations

import base64

import grpc

from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dispatcher_grpc
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import (
    chunk,
    conforms,
    next_of,
    opus,
    quiet,
    ready_node,
    result_for,
    ui_event,
)
from tests.suite import InProcessSuite, grpc_address, team_address


async def test_every_node_message_type(suite: InProcessSuite) -> None:
    node, node_id = await ready_node(suite, 0)
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"audio-0"))
    assign = conforms("node_in", await node.expect("job_assign"))
    assert assign["is_manual_cut"] is True
    assert (await ui_event(client, "DISPATCHED"))["job_id"] == assign["job_id"]
    ref = {
        "job_id": assign["job_id"],
        "attempt_id": assign["attempt_id"],
        "node_id": node_id,
        "session_id": session_id,
        "trace_id": assign["trace_id"],
    }
    await node.send({"type": "job_ack", **ref})
    accepted = await ui_event(client, "NODE_ACCEPTED")
    assert (accepted["utterance_index"], accepted["job_id"]) == (0, assign["job_id"])
    await node.send({"type": "job_started", **ref})  # accepted quietly (no reply to the node)
    partial_ref = {k: v for k, v in ref.items() if k != "attempt_id"}
    for is_final, event in ((False, "ASR_PARTIAL"), (True, "ASR_FINAL")):
        await node.send(
            {
                "type": "asr_partial",
                **partial_ref,
                "utterance_index": 0,
                "text": f"hel{'lo' if is_final else ''}",
                "is_final": is_final,
            }
        )
        partial = conforms("client_in", await next_of(client, "asr_partial"))
        assert (partial["is_final"], partial["job_id"], partial["trace_id"]) == (
            is_final,
            assign["job_id"],
            assign["trace_id"],
        )
        assert (await ui_event(client, event))["trace_id"] == assign["trace_id"]
    await node.send({"type": "node_error", "node_id": node_id, "code": "X", "message": "gpu hot"})
    await node.send(result_for(assign, node_id, "hello"))
    done = await ui_event(client, "NMT_DONE")
    result = conforms("client_in", await client.recv())
    assert result["type"] == "translation_result"
    assert (result["text_translated"], result["utterance_index"]) == ("HELLO", 0)
    assert (done["job_id"], done["trace_id"]) == (result["job_id"], result["trace_id"])
    assert isinstance(done["elapsed_ms"], int) and done["elapsed_ms"] >= 0
    # node_error got no reply: the node heard nothing since its job_assign.
    assert [m["type"] for m in await quiet(node)] == []

    # job_cancel (from the dispatcher API) and node_control (through the gateway's API).
    await client.send(utterance_message(session_id, 1, b"audio-1"))
    second = conforms("node_in", await node.expect("job_assign"))
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        await dispatcher_grpc.DispatcherServiceStub(channel).CancelJob(
            dispatcher_pb.CancelJobRequest(job_id=second["job_id"], reason="user stopped")
        )
    cancel = conforms("node_in", await node.expect("job_cancel"))
    assert (cancel["job_id"], cancel["reason"]) == (second["job_id"], "user stopped")
    failed = await ui_event(client, "ERROR")
    assert (failed["status"], failed["error_code"]) == ("error", "JOB_CANCELLED")
    error = conforms("client_in", await client.expect("error"))
    assert (error["code"], error["details"]["utterance_index"]) == ("JOB_CANCELLED", 1)
    async with grpc.aio.insecure_channel(grpc_address(suite.gateway_apps[0])) as channel:
        reply = await gw_grpc.GatewayServiceStub(channel).DeliverToNode(
            gw_pb.DeliverToNodeRequest(
                delivery=gw_pb.NodeDelivery(
                    node_id=node_id,
                    node_control=gw_pb.NodeControl(command="reload_config", reason="new models"),
                )
            )
        )
    assert reply.delivered
    control = conforms("node_in", await node.expect("node_control"))
    assert (control["command"], control["reason"]) == ("reload_config", "new models")
    await node.send({"type": "job_teleport"})
    refused = conforms("node_in", await node.expect("error"))
    assert refused["code"] == "INVALID_MESSAGE" and "job_teleport" in refused["message"]
    await node.close()
    await client.close()


async def test_every_session_message_type(suite: InProcessSuite) -> None:
    node, node_id = await ready_node(suite, 1)
    client = await Peer.open(suite.ws_url(0) + "/ws/session")
    await client.send(
        {
            "type": "session_init",
            "client_version": "web/2",
            "platform": "web",
            "src_lang": "zh",
            "tgt_lang": "en",
            "trace_id": "client-trace",
            "ui_theme": "dark",  # unknown fields are ignored
        }
    )
    ack = conforms("client_in", await client.recv())
    assert ack["type"] == "session_init_ack"
    session_id = ack["session_id"]
    assert {k: ack[k] for k in ack if k.startswith(("negotiated", "protocol", "use_"))} == {
        "protocol_version": "1.0",
        "use_binary_frame": False,
        "negotiated_codec": "opus",
        "negotiated_audio_format": "opus",
        "negotiated_sample_rate": 16000,
        "negotiated_channel_count": 1,
    }

    # audio_chunk: INPUT_STARTED with the first audio, INPUT_ENDED at the cut.
    await client.send(chunk(session_id, 0, opus(10, tag=1)))
    started = await ui_event(client, "INPUT_STARTED")
    assert (started["utterance_index"], started["job_id"], started["trace_id"]) == (
        0,
        "",
        ack["trace_id"],
    )
    await client.send(chunk(session_id, 1, opus(5, tag=2), is_final=True))
    ended = await ui_event(client, "INPUT_ENDED")
    assert (ended["hint"], ended["elapsed_ms"], ended["utterance_index"]) == ("manual", 300, 0)
    assign = conforms("node_in", await node.expect("job_assign"))
    assert base64.b64decode(assign["audio"]) == opus(10, tag=1) + opus(5, tag=2)
    assert (assign["audio_format"], assign["sample_rate"], assign["is_manual_cut"]) == (
        "opus",
        16000,
        True,
    )
    await ui_event(client, "DISPATCHED")
    await node.send(result_for(assign, node_id, "streamed"))
    await ui_event(client, "NMT_DONE")
    result = conforms("client_in", await client.expect("translation_result"))

    # tts_started / tts_play_ended: acknowledged for the utterance of that trace.
    playback = {"session_id": session_id, "trace_id": result["trace_id"], "group_id": "g"}
    await client.send({"type": "tts_started", **playback, "ts_start_ms": 1})
    tts = await ui_event(client, "TTS_PLAY_STARTED")
    assert (tts["utterance_index"], tts["job_id"]) == (0, result["job_id"])
    await client.send({"type": "tts_play_ended", **playback, "ts_end_ms": 2})
    assert (await ui_event(client, "TTS_PLAY_ENDED"))["job_id"] == result["job_id"]

    await client.send({"type": "client_heartbeat", "session_id": session_id, "timestamp": 5})
    beat = conforms("client_in", await client.expect("server_heartbeat"))
    assert beat["session_id"] == session_id

    # An empty result is a missing_result; a failed one an ERROR event and an error.
    await client.send(utterance_message(session_id, 1, b"silence"))
    assign = await node.expect("job_assign")
    await node.send(
        {
            **result_for(assign, node_id, ""),
            "text_translated": "",
            "extra": {"reason": "ASR_EMPTY"},
        }
    )
    missing = conforms("client_in", await client.expect("missing_result"))
    assert (missing["utterance_index"], missing["reason"]) == (1, "asr_empty")
    await client.send(utterance_message(session_id, 2, b"broken"))
    assign = await node.expect("job_assign")
    await node.send(
        {
            **result_for(assign, node_id, ""),
            "success": False,
            "error": {"code": "MODEL_NOT_AVAILABLE", "message": "no zh model"},
        }
    )
    assert (await ui_event(client, "ERROR"))["error_code"] == "MODEL_NOT_AVAILABLE"
    error = conforms("client_in", await client.expect("error"))
    assert (error["code"], error["details"]["utterance_index"]) == ("MODEL_NOT_AVAILABLE", 2)

    await client.send({"type": "session_close", "session_id": session_id, "reason": "done"})
    assert conforms("client_in", await client.expect("session_close_ack"))["session_id"] == (
        session_id
    )
    await client.send(utterance_message(session_id, 3, b"too late"))
    assert conforms("client_in", await client.expect("error"))["code"] == "SESSION_CLOSED"
    await node.close()
    await client.close()
