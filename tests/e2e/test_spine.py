"""The spine end to end: every service its own process, two gateway replicas, a fleet."""

from __future__ import annotations

import pytest

from tests.peers import open_session, registered_node, utterance_message
from tools.fleet import Fleet, FleetConfig
from tools.launcher.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def fleet_config(stack: Stack, **overrides: object) -> FleetConfig:
    base: dict[str, object] = {
        "urls": tuple(stack.gateway_urls),
        "nodes": 6,
        "clients": 4,
        "pairs": (("zh", "en"), ("en", "zh")),
        "utterances": 15,
        "interval_s": 0.05,
        "processing_ms": 10,
        "jitter_ms": 10,
        "heartbeat_interval_s": 2,
    }
    base.update(overrides)
    return FleetConfig(**base)  # type: ignore[arg-type]


async def test_every_utterance_gets_its_own_result_in_order_across_replicas(stack: Stack) -> None:
    async with Fleet(fleet_config(stack, run_id="order")) as fleet:
        await fleet.start()
        report = await fleet.run_clients()
    assert report.sent == 4 * 15
    assert report.answered == report.sent
    assert report.correct == report.sent, report.summary()
    assert report.out_of_order == 0
    assert report.duplicates == 0
    assert report.protocol_violations == 0, report.violation_samples
    assert report.ok, report.summary()


async def test_streamed_audio_chunks_are_cut_into_jobs_and_answered(stack: Stack) -> None:
    config = fleet_config(
        stack,
        mode="stream",
        clients=2,
        utterances=5,
        packets_per_utterance=12,
        chunk_packets=4,
        chunk_interval_s=0.02,
        run_id="stream",
    )
    async with Fleet(config) as fleet:
        await fleet.start()
        report = await fleet.run_clients()
    assert report.answered == report.sent == 10
    assert report.correct == 10, report.summary()
    assert report.ok, report.summary()


async def test_a_pair_nobody_serves_gets_no_available_node(stack: Stack) -> None:
    node, _ = await registered_node(stack.gateway_urls[0], pairs=[("zh", "en")])
    client, session_id = await open_session(stack.gateway_urls[1], "ja", "ko")
    await client.send(utterance_message(session_id, 0, b"konnichiwa", "ja", "ko"))
    error = await client.expect("error", wait_s=10)
    assert error["code"] == "NO_AVAILABLE_NODE"
    assert error["details"]["utterance_index"] == 0
    await client.close()
    await node.close()
