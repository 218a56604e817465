"""FakeNode and FakeClient over real WebSockets against the minimal scheduler peer."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from typing import TYPE_CHECKING, Any

from tools.fleet import payload
from tools.fleet.client import ClientConfig, FakeClient
from tools.fleet.node import FakeNode, NodeConfig
from tools.fleet.schema import check

if TYPE_CHECKING:
    from conftest import MiniScheduler

FAST_NODE = {"processing_ms": 0.0, "reconnect_initial_s": 0.01, "reconnect_max_s": 0.05}
FAST_CLIENT = {"interval_s": 0.0, "chunk_interval_s": 0.0, "answer_timeout_s": 10.0}


def assert_on_protocol(sched: MiniScheduler) -> None:
    """Every message the fake peers sent fits PROTOCOL.md, with no field beyond it."""
    for endpoint, message in sched.received:
        direction = "node_out" if endpoint == "/ws/node" else "client_out"
        assert check(direction, message, strict=True) == [], message


async def start_node(sched: MiniScheduler, url: str, **options: Any) -> FakeNode:
    settings = {"pairs": (("zh", "en"),), **FAST_NODE, **options}
    node = FakeNode(NodeConfig(url=url, **settings))
    node.start()
    await node.wait_registered(10.0)
    return node


async def test_node_registers_and_heartbeats(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url, token="s3cret", max_in_flight=3)
    try:
        beat = (await sched.wait_kind("node_heartbeat"))[0]
    finally:
        await node.stop()
    register = sched.messages("node_register")[0]
    assert sched.paths[0] == "/ws/node?token=s3cret"
    assert "node_id" not in register
    assert register["platform"] == "linux"
    assert register["capability_schema_version"] == "2.0"
    assert len(register["hardware"]["gpus"]) == 1
    assert {c["type"] for c in register["capability_by_type"] if c["ready"]} == {
        "asr",
        "nmt",
        "tts",
        "semantic",
    }
    assert register["language_capabilities"]["asr_languages"] == ["zh"]
    assert register["language_capabilities"]["semantic_languages"] == ["en"]
    assert node.node_id == beat["node_id"] == "node-1"
    assert beat["resource_usage"]["running_jobs"] == 0
    assert_on_protocol(sched)


async def test_utterance_mode_round_trip(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url, tts_bytes=64)
    config = ClientConfig(url=url, name="c0", utterances=3, api_key="k1", tenant_id="t1")
    client = FakeClient(dataclasses.replace(config, **FAST_CLIENT))
    try:
        report = await client.run()
    finally:
        await node.stop()
    assert (report.sent, report.answered, report.correct, report.wrong) == (3, 3, 3, 0)
    assert report.out_of_order == 0 and report.init_error is None
    assert report.protocol_violations == 0
    assert "/ws/session?api_key=k1" in sched.paths
    init = sched.messages("session_init")[0]
    assert init["platform"] == "web" and init["tenant_id"] == "t1"
    utterances = sched.messages("utterance")
    assert [u["utterance_index"] for u in utterances] == [0, 1, 2]
    assert all(u["manual_cut"] is True and u["audio_format"] == "opus" for u in utterances)
    results = sched.messages("job_result")
    assert all(r["success"] and r["node_id"] == node.node_id for r in results)
    assert all(r["trace_id"] == "t-" + r["session_id"] for r in results)
    assert all(r["tts_audio"] and "error" not in r for r in results)
    first = results[0]
    audio = payload.make_audio("c0", first["utterance_index"], 10)
    assert first["text_asr"] == payload.asr_text_for(audio)
    assert first["text_translated"] == payload.translated_text_for(audio, "en")
    assert_on_protocol(sched)


async def test_stream_mode_cuts_on_final_chunk(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url)
    config = ClientConfig(url=url, name="c1", mode="stream", utterances=2, chunk_packets=4)
    client = FakeClient(dataclasses.replace(config, **FAST_CLIENT, send_session_close=True))
    try:
        report = await client.run()
    finally:
        await node.stop()
    assert (report.sent, report.answered, report.correct) == (2, 2, 2)
    assert not report.connection_lost  # session_close was acknowledged
    chunks = sched.messages("audio_chunk")
    assert [c["seq"] for c in chunks] == list(range(8))  # 3 + final, twice
    finals = [c for c in chunks if c["is_final"]]
    assert [f["payload"] for f in finals] == ["", ""]
    assert all(payload.opus_packets(base64.b64decode(c["payload"])) in (2, 4) for c in chunks[:3])
    assert len(sched.messages("session_close")) == 1
    assert_on_protocol(sched)


async def test_corrupted_text_is_caught(sched: MiniScheduler) -> None:
    sched.corrupt_text = True
    url = await sched.listen()
    node = await start_node(sched, url)
    client = FakeClient(dataclasses.replace(ClientConfig(url=url, utterances=2), **FAST_CLIENT))
    try:
        report = await client.run()
    finally:
        await node.stop()
    assert (report.answered, report.correct, report.wrong) == (2, 0, 2)


async def test_failures_and_empty_results(sched: MiniScheduler) -> None:
    url = await sched.listen()
    failing = await start_node(sched, url, failure_rate=1.0)
    empty = await start_node(sched, url, empty_rate=1.0)
    client = FakeClient(dataclasses.replace(ClientConfig(url=url, utterances=4), **FAST_CLIENT))
    try:
        report = await client.run()
    finally:
        await failing.stop()
        await empty.stop()
    assert (report.answered, report.correct, report.empty) == (4, 0, 2)
    assert report.errors_by_code == {"PROCESSING_ERROR": 2}
    failed = [r for r in sched.messages("job_result") if not r["success"]]
    assert [r["error"]["code"] for r in failed] == ["PROCESSING_ERROR"] * 2
    assert all("text_asr" not in r for r in failed)
    emptied = [r for r in sched.messages("job_result") if r["success"]]
    assert all(r["extra"] == {"reason": "ASR_EMPTY"} and r["text_asr"] == "" for r in emptied)
    assert (failing.stats.failed, empty.stats.empty) == (2, 2)
    assert_on_protocol(sched)


async def test_duplicate_assign_is_refused_and_cancel_is_silent(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url, processing_ms=60_000.0)
    assign = {
        "type": "job_assign",
        "job_id": "j1",
        "attempt_id": 1,
        "session_id": "s",
        "utterance_index": 0,
        "src_lang": "zh",
        "tgt_lang": "en",
        "pipeline": {"use_asr": True, "use_nmt": True, "use_tts": True},
        "audio": "",
        "audio_format": "opus",
        "sample_rate": 16000,
        "trace_id": "t",
    }
    try:
        await sched.send_to_node(assign)
        await sched.send_to_node({**assign, "job_id": "j2"})  # same utterance, other job
        await sched.send_to_node({**assign, "attempt_id": 2})  # same job, later attempt
        refusals = await sched.wait_kind("job_result", count=2)
        assert node.in_flight == 1
        await sched.send_to_node({"type": "job_cancel", "job_id": "j1", "reason": "test"})
        await node.wait_idle(10.0)
    finally:
        await node.stop()
    assert [(r["job_id"], r["attempt_id"]) for r in refusals] == [("j2", 1), ("j1", 2)]
    assert all(r["error"]["code"] == "PROCESSING_ERROR" for r in refusals)
    assert (node.stats.refused, node.stats.cancelled) == (2, 1)
    assert len(sched.messages("job_result")) == 2  # nothing for the cancelled job
    assert_on_protocol(sched)


async def test_reconnect_keeps_the_node_id(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url)
    try:
        first_id = node.node_id
        await sched.send_to_node({"type": "node_control", "command": "drain"})
        await sched.send_to_node({"type": "node_control", "command": "reconnect"})
        await sched.wait_kind("node_register", count=2)
        await node.wait_registered(10.0)
    finally:
        await node.stop()
    again = sched.messages("node_register")[1]
    assert again["node_id"] == first_id == node.node_id
    assert node.stats.controls == ["drain", "reconnect"]
    assert node.stats.connects == 2
    assert_on_protocol(sched)


async def test_client_tolerates_other_messages(sched: MiniScheduler) -> None:
    sched.noise = True  # heartbeat, ui_event, binary, non-JSON, error, an unknown kind
    url = await sched.listen()
    node = await start_node(sched, url)
    client = FakeClient(dataclasses.replace(ClientConfig(url=url, utterances=1), **FAST_CLIENT))
    try:
        report = await client.run()
    finally:
        await node.stop()
    assert (report.correct, report.unanswered) == (1, 0)
    assert report.session_errors == {"INVALID_MESSAGE": 1}
    assert report.protocol_violations == 0


async def test_client_heartbeat_and_abort(sched: MiniScheduler) -> None:
    url = await sched.listen()
    node = await start_node(sched, url, processing_ms=60_000.0)  # no answer comes in time
    config = ClientConfig(url=url, utterances=1, heartbeat_interval_s=0.01, answer_timeout_s=50)
    client = FakeClient(dataclasses.replace(config, interval_s=0.0))
    run = asyncio.create_task(client.run())
    try:
        beat = (await sched.wait_kind("client_heartbeat"))[0]
        client.abort()
        report = await run
    finally:
        await node.stop()
    assert beat["session_id"] == client.session_id
    assert (report.sent, report.unanswered) == (1, 1)
    assert_on_protocol(sched)


async def test_out_of_order_and_off_protocol_answers(sched: MiniScheduler) -> None:
    sched.hold_results = 3
    sched.drop_trace_id = True
    url = await sched.listen()
    node = await start_node(sched, url)
    client = FakeClient(dataclasses.replace(ClientConfig(url=url, utterances=3), **FAST_CLIENT))
    try:
        report = await client.run()
    finally:
        await node.stop()
    assert report.answered == 3
    assert report.out_of_order == 2
    assert report.protocol_violations == 3
    assert "translation_result.trace_id: required field missing" in report.violation_samples


async def test_rejected_session_is_an_init_failure(sched: MiniScheduler) -> None:
    sched.reject_sessions = True
    url = await sched.listen()
    report = await FakeClient(ClientConfig(url=url, utterances=2)).run()
    assert report.init_error == "UNAUTHENTICATED: no key"
    assert (report.sent, report.answered) == (0, 0)
