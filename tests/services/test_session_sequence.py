"""One index sequence per session, and what happens to buffered audio when a session
ends (PROTOCOL.md "One index sequence per session", "Socket loss with audio buffered"),
through the real gateway, dispatcher and a node."""

from __future__ import annotations

import logging

import pytest

from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import (
    chunk,
    conforms,
    opus,
    quiet,
    ready_node,
    result_for,
    running_suite,
    ui_event,
)
from tests.services.lifecycle_helpers import eventually
from tests.suite import InProcessSuite


async def answer_every_job(node: Peer, node_id: str, count: int) -> list[int]:
    """Answer `count` job_assigns as they come; their utterance indexes."""
    indexes = []
    for _ in range(count):
        assign = conforms("node_in", await node.expect("job_assign"))
        indexes.append(int(assign["utterance_index"]))
        await node.send(result_for(assign, node_id, f"said {assign['utterance_index']}"))
    return indexes


async def test_utterances_and_cuts_draw_from_one_index_sequence(suite: InProcessSuite) -> None:
    node, node_id = await ready_node(suite, 1)
    client, session_id = await open_session(suite.ws_url(0))
    await client.send(utterance_message(session_id, 0, b"typed 0"))
    await client.send(utterance_message(session_id, 1, b"typed 1"))
    # A cut of streamed audio after them takes 2 (it used to take 0, which was refused).
    await client.send(chunk(session_id, 0, opus(10, tag=1)))
    await client.send(chunk(session_id, 1, b"", is_final=True))
    assert (await ui_event(client, "INPUT_ENDED"))["utterance_index"] == 2
    # Audio buffering while an utterance message takes the next index: the cut goes above.
    await client.send(chunk(session_id, 2, opus(10, tag=2)))
    await ui_event(client, "INPUT_STARTED")
    await client.send(utterance_message(session_id, 3, b"typed 3"))
    await client.send(chunk(session_id, 3, b"", is_final=True))
    assert (await ui_event(client, "INPUT_ENDED"))["utterance_index"] == 4
    assert sorted(await answer_every_job(node, node_id, 5)) == [0, 1, 2, 3, 4]
    answered = [
        int(conforms("client_in", await client.expect("translation_result"))["utterance_index"])
        for _ in range(5)
    ]
    assert answered == [0, 1, 2, 3, 4]  # every cut answered, indexes strictly increasing
    assert [m for m in client.seen if m["type"] == "error"] == []
    await node.close()
    await client.close()


async def test_session_close_answers_the_buffered_audio_before_its_ack(
    suite: InProcessSuite,
) -> None:
    node, node_id = await ready_node(suite, 0)
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"typed"))
    await client.send(chunk(session_id, 0, opus(20, tag=7)))
    await client.send({"type": "session_close", "session_id": session_id, "reason": "done"})
    ended = await ui_event(client, "INPUT_ENDED")
    assert (ended["utterance_index"], ended["hint"]) == (1, "close")
    # Nothing is acknowledged while the answers are owed.
    assert [m["type"] for m in await quiet(client) if m["type"] == "session_close_ack"] == []
    assert sorted(await answer_every_job(node, node_id, 2)) == [0, 1]
    order = []
    while "session_close_ack" not in order:
        message = conforms("client_in", await client.recv())
        if message["type"] in ("translation_result", "session_close_ack"):
            order.append(message["type"])
    assert order == ["translation_result", "translation_result", "session_close_ack"]
    await node.close()
    await client.close()


async def test_a_socket_closed_with_audio_buffered_drops_it_with_one_info_line(
    redis_settings: RedisSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.gateway.session_link")
    async with running_suite(redis_settings) as suite:
        node, _ = await ready_node(suite)
        client, session_id = await open_session(suite.ws_url())
        audio = opus(15, tag=3)
        await client.send(chunk(session_id, 0, audio))
        await ui_event(client, "INPUT_STARTED")
        await client.close()

        def dropped() -> list[logging.LogRecord]:
            said = "client left with audio buffered"
            return [r for r in caplog.records if r.getMessage() == said]

        async def logged() -> bool:  # the gateway sees the close at its own pace
            return bool(dropped())

        await eventually(logged)
        [line] = dropped()
        assert (line.levelno, line.session_id, line.bytes) == (  # type: ignore[attr-defined]
            logging.INFO,
            session_id,
            len(audio),
        )
        assert [m["type"] for m in await quiet(node)] == []  # no job: nobody could hear it
        await node.close()
