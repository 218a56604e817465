"""Utterance cutting end to end: streamed audio_chunks through the real WebSocket, the
dispatcher and a node, with time driven by a ManualClock (no sleeping into windows).

The node's job_assign must carry the rule's flag and exactly the concatenated audio.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from lingua_common.clock import ManualClock
from lingua_common.settings import RedisSettings
from services.gateway.cutting import CutSettings
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import (
    chunk,
    opus,
    quiet,
    ready_node,
    result_for,
    running_suite,
    ui_event,
)
from tests.suite import InProcessSuite

FLAGS = ("is_manual_cut", "is_timeout_triggered", "is_max_duration_triggered")
CUT = CutSettings(max_bytes=4000)  # pause 3 s, max 10 s, blip hold 6 s, playback 30 s
ANSWER_TIMEOUT_MS = 2000  # shorter than any dispatcher timeout: the gateway's own rule


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def cut_suite(
    redis_settings: RedisSettings, clock: ManualClock
) -> AsyncIterator[InProcessSuite]:
    async with running_suite(
        redis_settings, clock=clock, cutting=CUT, answer_timeout_ms=ANSWER_TIMEOUT_MS
    ) as suite:
        yield suite


def flags_of(assign: dict[str, object]) -> set[str]:
    return {flag for flag in FLAGS if assign.get(flag)}


async def stream(client: Peer, session_id: str, payloads: list[bytes], first_seq: int = 0) -> None:
    for seq, payload in enumerate(payloads, start=first_seq):
        await client.send(chunk(session_id, seq, payload))


async def assert_no_job(node: Peer) -> None:
    assert [m for m in await quiet(node) if m["type"] == "job_assign"] == []


async def test_pause_cut_fires_exactly_pause_ms_after_the_last_chunk(
    cut_suite: InProcessSuite, clock: ManualClock
) -> None:
    node, node_id = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    parts = [opus(25, tag=1), opus(25, tag=2)]  # one second of speech
    await stream(client, session_id, [parts[0]])
    await ui_event(client, "INPUT_STARTED")
    await stream(client, session_id, [parts[1]], first_seq=1)
    await client.send({"type": "client_heartbeat", "session_id": session_id, "timestamp": 1})
    await client.expect("server_heartbeat")  # the gateway has taken both chunks
    clock.advance(CUT.pause_ms - 1)
    await assert_no_job(node)
    clock.advance(1)
    assign = await node.expect("job_assign")
    assert flags_of(assign) == {"is_timeout_triggered"}
    assert base64.b64decode(assign["audio"]) == b"".join(parts)
    assert (assign["utterance_index"], assign["audio_format"], assign["sample_rate"]) == (
        0,
        "opus",
        16000,
    )
    await node.send(result_for(assign, node_id, "paused"))
    assert (await client.expect("translation_result"))["utterance_index"] == 0
    await node.close()
    await client.close()


async def test_max_duration_and_byte_cap_cut_without_waiting(cut_suite: InProcessSuite) -> None:
    node, _ = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    ten_seconds = [opus(100, tag=n, size=1) for n in range(5)]  # 5 x 2 s, 1500 bytes
    await stream(client, session_id, ten_seconds)
    assign = await node.expect("job_assign")
    assert flags_of(assign) == {"is_max_duration_triggered"}
    assert base64.b64decode(assign["audio"]) == b"".join(ten_seconds)
    big = [opus(2, tag=9, size=998), opus(2, tag=8, size=998), opus(1, tag=7, size=10)]
    await stream(client, session_id, big, first_seq=5)  # 4000 bytes, then it exceeds
    assign = await node.expect("job_assign")
    assert (assign["utterance_index"], flags_of(assign)) == (1, set())
    assert base64.b64decode(assign["audio"]) == b"".join(big)
    await node.close()
    await client.close()


async def test_manual_cut_then_chunks_meanwhile_go_to_the_next_index(
    cut_suite: InProcessSuite,
) -> None:
    node, _ = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    await client.send(chunk(session_id, 0, opus(30, tag=1)))
    await client.send(chunk(session_id, 1, opus(30, tag=2), is_final=True))
    await client.send(chunk(session_id, 2, opus(30, tag=3)))  # right behind the cut
    await client.send(chunk(session_id, 3, b"", is_final=True))
    await client.send(chunk(session_id, 4, b"", is_final=True))  # an empty buffer: no job
    # Both jobs are created at once; the node may get them in either order.
    first, second = sorted(
        [await node.expect("job_assign"), await node.expect("job_assign")],
        key=lambda assign: int(assign["utterance_index"]),
    )
    assert (first["utterance_index"], second["utterance_index"]) == (0, 1)
    assert flags_of(first) == flags_of(second) == {"is_manual_cut"}
    assert base64.b64decode(first["audio"]) == opus(30, tag=1) + opus(30, tag=2)
    assert base64.b64decode(second["audio"]) == opus(30, tag=3)
    await assert_no_job(node)
    await node.close()
    await client.close()


async def test_failure_1_and_2_a_pause_and_a_late_is_final_make_one_job(
    cut_suite: InProcessSuite, clock: ManualClock
) -> None:
    node, _ = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    await stream(client, session_id, [opus(50, tag=4)])
    await ui_event(client, "INPUT_STARTED")
    clock.advance(CUT.pause_ms)  # the pause rule is due now ...
    await client.send(chunk(session_id, 1, b"", is_final=True))  # ... and the client cuts too
    assign = await node.expect("job_assign")
    assert assign["utterance_index"] == 0
    await assert_no_job(node)  # one job for index 0, whichever rule won
    # The next speech is index 1; no stale timer cuts it early or with the old index.
    await stream(client, session_id, [opus(50, tag=5)], first_seq=2)
    assert (await ui_event(client, "INPUT_STARTED"))["utterance_index"] == 1
    clock.advance(CUT.pause_ms - 1)
    await assert_no_job(node)
    clock.advance(1)
    assign = await node.expect("job_assign")
    assert (assign["utterance_index"], base64.b64decode(assign["audio"])) == (1, opus(50, tag=5))
    await node.close()
    await client.close()


async def test_failure_9_tts_playback_holds_the_pause_and_play_end_restarts_it(
    cut_suite: InProcessSuite, clock: ManualClock
) -> None:
    node, _ = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    playback = {"session_id": session_id, "trace_id": "t", "group_id": "g"}
    await client.send({"type": "tts_started", **playback, "ts_start_ms": 0})
    await stream(client, session_id, [opus(50, tag=6)])
    await ui_event(client, "INPUT_STARTED")
    clock.advance(10_000)
    await assert_no_job(node)
    await client.send({"type": "tts_play_ended", **playback, "ts_end_ms": 10_000})
    await ui_event(client, "TTS_PLAY_ENDED")
    clock.advance(CUT.pause_ms - 1)
    await assert_no_job(node)
    clock.advance(1)
    assert flags_of(await node.expect("job_assign")) == {"is_timeout_triggered"}
    await node.close()
    await client.close()


async def test_a_lost_tts_play_ended_and_a_blip_are_held_only_for_a_bounded_time(
    cut_suite: InProcessSuite, clock: ManualClock
) -> None:
    node, _ = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    playback = {"session_id": session_id, "trace_id": "t", "group_id": "g", "ts_start_ms": 0}
    await client.send({"type": "tts_started", **playback})
    await stream(client, session_id, [opus(50, tag=7)])
    await ui_event(client, "INPUT_STARTED")
    clock.advance(CUT.max_playback_ms + CUT.pause_ms - 1)
    await assert_no_job(node)
    clock.advance(1)
    assert (await node.expect("job_assign"))["utterance_index"] == 0
    # A 200 ms blip alone: not cut on a pause, but after the blip hold.
    await client.send(chunk(session_id, 1, opus(10, tag=8)))
    assert (await ui_event(client, "INPUT_STARTED"))["utterance_index"] == 1
    clock.advance(CUT.pause_ms)
    await assert_no_job(node)
    clock.advance(CUT.blip_hold_ms - CUT.pause_ms)
    assign = await node.expect("job_assign")
    assert (assign["utterance_index"], flags_of(assign)) == (1, {"is_timeout_triggered"})
    assert base64.b64decode(assign["audio"]) == opus(10, tag=8)
    await node.close()
    await client.close()


async def test_a_gap_waits_a_bounded_time_then_gets_its_own_error_and_later_answers_flow(
    cut_suite: InProcessSuite, clock: ManualClock
) -> None:
    node, node_id = await ready_node(cut_suite)
    client, session_id = await open_session(cut_suite.ws_url())
    assigns = []
    for index in range(3):
        if index == 1:
            # 1 and 2 are accepted later than 0, so only 0 can run out of time below.
            clock.advance(ANSWER_TIMEOUT_MS // 2)
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
        assigns.append(await node.expect("job_assign"))
    for assign in assigns[1:]:
        await node.send(result_for(assign, node_id, f"t{assign['utterance_index']}"))
    held = [m for m in await quiet(client) if m["type"] != "ui_event"]
    assert held == []  # 1 and 2 wait for 0
    clock.advance(ANSWER_TIMEOUT_MS // 2)
    answers = [await client.expect(kind) for kind in ("error", *["translation_result"] * 2)]
    assert (answers[0]["code"], answers[0]["details"]["utterance_index"]) == ("JOB_TIMEOUT", 0)
    assert [a["utterance_index"] for a in answers[1:]] == [1, 2]
    await node.send(result_for(assigns[0], node_id, "late"))  # dropped: 0 was answered
    assert [m for m in await quiet(client) if m["type"] == "translation_result"] == []
    await node.close()
    await client.close()
