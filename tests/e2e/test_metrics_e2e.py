"""Metrics end to end: every service its own process (two dispatcher replicas, two
gateways), each serving GET /metrics on the port its ready file names. After a fleet
run, the job counters summed over the dispatcher replicas add up exactly, and every
metric the alert rules name is exported by these processes too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.metrics_scrape import Samples, scrape
from tests.services.test_metrics_alerts import alert_rules, metric_name, selectors
from tools.fleet import Fleet, FleetConfig
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("metrics-stack")
    running = Stack(StackConfig(gateway_ws_ports=(0, 0), dispatchers=2, run_dir=run_dir)).start()
    yield running
    codes = running.stop()
    assert all(code == 0 for code in codes.values()), codes


async def settled_dispatchers(stack: Stack) -> Samples:
    """The dispatchers' counters (summed) once the Redis gauge says nothing is in flight."""
    ports = [d.ports["metrics"] for d in stack.dispatchers]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        samples = await scrape(*ports)
        # Every replica reads the same Redis: the summed gauge is replicas x the value.
        if samples.get("lingua_jobs_in_flight") == 0:
            return samples
        assert loop.time() < deadline, "jobs still in flight"
        await asyncio.sleep(0.05)


async def test_job_counters_add_up_over_dispatcher_replicas(stack: Stack) -> None:
    assert all(service.ports["metrics"] > 0 for service in stack.services)
    config = FleetConfig(
        urls=tuple(stack.gateway_urls),
        nodes=4,
        clients=3,
        pairs=(("zh", "en"),),
        utterances=10,
        interval_s=0.02,
        processing_ms=5,
        jitter_ms=5,
        heartbeat_interval_s=2,
        run_id="metrics",
    )
    async with Fleet(config) as fleet:
        await fleet.start()
        report = await fleet.run_clients()
        assert report.correct == report.sent == 30, report.summary()
        gateways = await scrape(*(g.ports["metrics"] for g in stack.gateways))
        assert gateways.get("lingua_connections", kind="node") == 4
        assert stack.registry is not None
        registry = await scrape(stack.registry.ports["metrics"])
        assert registry.get("lingua_nodes", status="ready") == 4
        assert registry.get("lingua_heartbeats_total", outcome="ok") >= 4
    jobs = await settled_dispatchers(stack)
    assert jobs.get("lingua_jobs_created_total") == 30
    assert jobs.get("lingua_jobs_finished_total", state="completed") == 30
    assert jobs.get("lingua_jobs_finished_total") == 30
    assert jobs.get("lingua_dispatch_latency_seconds_count") >= 30
    # Both replicas took part: the gateways spread CreateJob round-robin.
    for dispatcher in stack.dispatchers:
        own = await scrape(dispatcher.ports["metrics"])
        assert own.get("lingua_jobs_created_total") > 0, dispatcher.name


async def test_alert_metrics_are_exported_by_the_processes(stack: Stack) -> None:
    exported = (await scrape(*(s.ports["metrics"] for s in stack.services))).names()
    named = {metric_name(s) for rule in alert_rules() for s in selectors(rule["expr"])}
    assert named - exported == {"up"}
