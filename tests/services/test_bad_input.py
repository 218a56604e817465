"""Hostile and malformed input: a clear error, the connection and the session keep working."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed

from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.suite import InProcessSuite

BAD_FRAMES = [
    ("{not json", "malformed JSON"),
    ("[1, 2, 3]", "JSON object"),
    ('{"no_type": 1}', "'type'"),
    ('{"type": "teleport"}', "unknown message type"),
    ('{"type": "utterance", "session_id": "x"}', "missing required field"),
]


async def test_each_bad_frame_gets_invalid_message_and_the_session_keeps_working(
    suite: InProcessSuite,
) -> None:
    node, _ = await registered_node(suite.ws_url(0))
    await asyncio.sleep(0.1)
    client, session_id = await open_session(suite.ws_url(0))
    for frame, hint in BAD_FRAMES:
        await client.send(frame)
        error = await client.expect("error")
        assert error["code"] == "INVALID_MESSAGE"
        assert hint in error["message"], (frame, error)
    await client.send(b"\x00\x01binary")
    assert (await client.expect("error"))["code"] == "INVALID_MESSAGE"
    bad_types = utterance_message(session_id, 0, b"x")
    bad_types["utterance_index"] = "zero"
    await client.send(bad_types)
    error = await client.expect("error")
    assert "utterance_index" in error["message"]
    bad_audio = utterance_message(session_id, 0, b"x")
    bad_audio["audio"] = "***not base64***"
    await client.send(bad_audio)
    assert "base64" in (await client.expect("error"))["message"]
    other_session = utterance_message("sess-not-mine", 0, b"x")
    await client.send(other_session)
    assert (await client.expect("error"))["code"] == "INVALID_SESSION"
    # After all that, a good utterance still goes through.
    await client.send(utterance_message(session_id, 0, b"good"))
    assign = await node.expect("job_assign")
    assert assign["utterance_index"] == 0
    await node.close()
    await client.close()


async def test_messages_before_session_init_are_refused(suite: InProcessSuite) -> None:
    client = await Peer.open(suite.ws_url() + "/ws/session")
    await client.send(utterance_message("sess-x", 0, b"x"))
    error = await client.expect("error")
    assert error["code"] == "INVALID_MESSAGE"
    assert "session_init" in error["message"]
    await client.close()


async def test_an_oversized_frame_closes_with_1009(suite: InProcessSuite) -> None:
    client, _ = await open_session(suite.ws_url())
    await client.send("x" * (1024 * 1024 + 1))
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv(wait_s=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_client_heartbeat_is_answered(suite: InProcessSuite) -> None:
    client, session_id = await open_session(suite.ws_url())
    await client.send({"type": "client_heartbeat", "session_id": session_id, "timestamp": 1})
    beat = await client.expect("server_heartbeat")
    assert beat["session_id"] == session_id
    await client.close()
