"""Failover end to end: every service its own process, two gateways, a fleet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.fleet import Fleet, FleetConfig
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def config(stack: Stack, run_id: str, **overrides: object) -> FleetConfig:
    base: dict[str, object] = {
        "urls": tuple(stack.gateway_urls),
        "nodes": 4,
        "clients": 3,
        "pairs": (("zh", "en"), ("en", "zh")),
        "utterances": 12,
        "interval_s": 0.15,
        "processing_ms": 400,
        "heartbeat_interval_s": 2,
        "answer_timeout_s": 40,
        "run_id": run_id,
    }
    base.update(overrides)
    return FleetConfig(**base)  # type: ignore[arg-type]


async def test_a_node_killed_mid_job_its_results_still_arrive_in_order(stack: Stack) -> None:
    async with Fleet(config(stack, "kill-node")) as fleet:
        await fleet.start()
        run = asyncio.create_task(fleet.run_clients())
        await asyncio.sleep(1.0)
        victim = next(node for node in fleet.nodes if node.in_flight)
        await victim.stop(grace_s=0)  # gone for good: no reconnect, jobs in flight lost
        report = await run
    assert victim.stats.assigned > victim.stats.completed
    assert report.answered == report.sent == 36
    assert report.correct == report.sent, report.summary()
    assert report.out_of_order == 0 and report.duplicates == 0
    assert report.ok, report.summary()


@pytest.fixture(scope="module")
def two_dispatchers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("two-dispatchers")
    running = Stack(StackConfig(gateway_ws_ports=(0, 0), dispatchers=2, run_dir=run_dir)).start()
    yield running
    running.stop()


async def test_one_of_two_dispatchers_killed_mid_run(two_dispatchers: Stack) -> None:
    stack = two_dispatchers
    # Six sessions keep about 40 jobs a second under way when the replica dies.
    async with Fleet(config(stack, "kill-dispatcher", processing_ms=300, clients=6)) as fleet:
        await fleet.start()
        run = asyncio.create_task(fleet.run_clients())
        await asyncio.sleep(1.0)
        stack.dispatchers[0].kill()  # SIGKILL: its timers and queue live on in Redis
        report = await run
    # Every utterance answered exactly once and in order; what the dead replica was in
    # the middle of is finished by the other one.
    assert report.answered == report.sent == 72, report.summary()
    assert report.out_of_order == 0 and report.duplicates == 0
    assert report.correct == report.sent, report.summary()
