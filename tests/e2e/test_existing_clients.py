"""The network's existing programs as the fleet plays them, against every service as its
own process (what `make up DEMO=1` runs): web clients in two-way mode streaming Opus and
reporting playback with the group ids they receive, and node agents that reconnect the
way the real one does (socket dropped mid-job, heartbeat before register, same id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.fleet import Fleet, FleetConfig
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # A lost attempt (its node's socket dropped mid-job) is retried after 3 s, not 15 s.
    running = Stack(
        StackConfig(
            gateway_ws_ports=(0, 0), run_dir=tmp_path, env={"LINGUA_JOB_TIMEOUT_MS": "3000"}
        )
    ).start()
    yield running
    running.stop()


async def test_two_way_web_clients_and_reconnecting_agents_get_every_answer(stack: Stack) -> None:
    config = FleetConfig(
        urls=tuple(stack.gateway_urls),
        nodes=4,
        reconnecting_nodes=2,
        drop_every_s=1.5,
        agent_backoff_s=(0.2, 1.0),  # back within the gateway's 1 s grace, mostly
        clients=1,
        two_way_clients=2,
        pairs=(("zh", "en"), ("en", "zh")),
        mode="stream",
        utterances=10,
        interval_s=0.4,
        packets_per_utterance=12,
        chunk_packets=4,
        chunk_interval_s=0.02,
        processing_ms=60,
        playback_s=0.2,
        answer_timeout_s=30,
        run_id="existing",
    )
    async with Fleet(config) as fleet:
        await fleet.start()
        report = await fleet.run_clients()
    assert report.sent == report.answered == 30, report.summary()
    assert report.correct == 30 and report.errors_by_code == {}, report.summary()
    assert report.ungrouped == 0 and report.groups >= 3, report.summary()
    assert report.playbacks == 30, report.summary()
    totals = report.node_totals
    assert totals["drops"] >= 2 and totals["early_heartbeats"] >= 2, report.summary()
    assert totals["server_errors"] == 0, report.summary()  # no error frame to any agent
    assert report.ok, report.summary()
