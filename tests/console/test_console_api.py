"""The console's HTTP API against a real in-process stack with two dispatcher replicas
and two console replicas: the numbers it serves are the services' numbers, it streams
them live, it keeps one chart history for both replicas, and its actions and its
credentials work as documented.

The metrics board and the console's sampling are driven step by step (publish_once,
tick_once) with a manual clock: no waiting for intervals."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dpb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dgrpc
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.metrics.board import MetricsBoard, MetricsPublisher
from lingua_common.operator_auth import ConsoleAuth, TokenTable
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.console.app import Console, build_console
from services.console.live import TooManyClients
from services.console.settings import ConsoleSettings
from tests.metrics_scrape import scrape
from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tests.services.lifecycle_helpers import status_of, wait_status
from tests.suite import LOCAL, InProcessSuite, grpc_address

OPERATOR = "op-secret"
TENANT = "acme-secret"
TOKENS = f"{OPERATOR}:*,{TENANT}:acme"
ACTION = {"X-Lingua-Console": "1"}
INTERVAL_MS = 2_000


@dataclasses.dataclass
class Stack:
    suite: InProcessSuite
    consoles: list[Console]
    publishers: list[MetricsPublisher]
    clock: ManualClock
    http: aiohttp.ClientSession

    def url(self, path: str, console: int = 0) -> str:
        return f"http://127.0.0.1:{self.consoles[console].app.ports['http']}{path}"

    async def get(self, path: str, token: str = OPERATOR, console: int = 0) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.get(self.url(path, console), headers=headers) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, token: str = OPERATOR, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", ACTION)}
        async with self.http.post(self.url(path), headers=headers, **kw) as response:
            return response.status, await response.json()

    async def publish(self) -> None:
        """Every dispatcher replica writes its metrics to the board (as its loop would)."""
        for publisher in self.publishers:
            await publisher.publish_once()

    async def tick(self, *, advance_ms: int = INTERVAL_MS) -> dict[str, Any]:
        """One sampling interval: publish, move the clock, both consoles refresh."""
        self.clock.advance(advance_ms)
        await self.publish()
        for console in self.consoles:
            await console.sampler.tick_once()
        view: dict[str, Any] = await self.get("/api/overview")
        return view


@pytest.fixture
async def stack(single_redis_settings: RedisSettings) -> AsyncIterator[Stack]:
    server = dataclasses.replace(LOCAL, metrics_publish_ms=0)  # the test publishes itself
    suite = await InProcessSuite(
        single_redis_settings,
        dispatchers=2,
        server=server,
        dispatcher_overrides={"no_node_wait_ms": 0},
    ).start()
    clock = ManualClock()
    settings = ConsoleSettings(
        server=server,
        redis=single_redis_settings,
        registry_address=grpc_address(suite.registry),
        pool_address=grpc_address(suite.pool),
        dispatcher_address=suite.team_target,
        http_port=0,
        auth=ConsoleAuth(disabled=False, tokens=TokenTable.parse(TOKENS)),
        sample_interval_ms=INTERVAL_MS,
        trace_url="http://jaeger.local/trace/{trace_id}",
    )
    consoles = [build_console(settings, clock, sample=False) for _ in range(2)]
    for console in consoles:
        await console.app.start()
    redis = connect(single_redis_settings)
    board = MetricsBoard(redis, Keys(single_redis_settings.key_prefix))
    publishers = [
        MetricsPublisher(board, "dispatcher", app.metrics.render, INTERVAL_MS, clock.now_ms)
        for app in suite.dispatcher_apps
    ]
    async with aiohttp.ClientSession() as http:
        yield Stack(suite, consoles, publishers, clock, http)
    for console in consoles:
        await console.app.stop()
    await redis.aclose()
    await suite.stop()


async def answer(node: Peer, node_id: str, count: int) -> list[dict[str, Any]]:
    jobs = []
    for _ in range(count):
        assign = await node.expect("job_assign", skip=("ui_event", "job_cancel"))
        await node.send(result_for(assign, node_id, "hello"))
        jobs.append(assign)
    return jobs


async def test_the_console_shows_what_the_services_hold_and_charts_the_load(stack: Stack) -> None:
    suite = stack.suite
    node, node_id = await registered_node(suite.ws_url(), [("zh", "en"), ("en", "zh")])
    await wait_status(suite, node_id, "ready")
    first = await stack.tick()  # the first look keeps the counters; no chart point yet
    assert first["point"] is None
    assert [n["node_id"] for n in first["nodes"]] == [node_id]
    assert first["replicas"] == {"dispatcher": 2, "gateway": 0}

    session, session_id = await open_session(suite.ws_url())
    for index in range(6):
        await session.send(utterance_message(session_id, index, b"audio"))
    await answer(node, node_id, 6)
    for _ in range(6):
        await session.expect("translation_result")
    view = await stack.tick()

    # Jobs: the sum over both dispatcher replicas, per second of the interval.
    samples = await scrape(*(app.ports["metrics"] for app in suite.dispatcher_apps))
    assert samples.get("lingua_jobs_created_total") == 6
    point = view["point"]
    assert point["jobs_per_s"] == 6 / (INTERVAL_MS / 1000)
    assert point["completed_per_s"] == point["jobs_per_s"]
    assert point["failed_per_s"] == 0
    assert point["dispatch_p50_ms"] is not None and point["result_p99_ms"] is not None
    assert view["load"] == point
    # Nodes and pools as the registry and the pool hold them.
    assert view["by_status"]["ready"] == 1
    (row,) = view["nodes"]
    assert (row["node_id"], row["status"], row["running"], row["max_jobs"]) == (
        node_id,
        "ready",
        0,
        4,
    )
    assert {(p["src"], p["tgt"]) for p in row["pairs"]} == {("zh", "en"), ("en", "zh")}
    pools = {p["pair"]: p for p in view["pools"]}
    assert set(pools) == {"en→zh", "zh→en", "en↔zh"}
    assert pools["zh→en"]["free_slots"] == 4 and pools["zh→en"]["waiting"] == 0

    # One history for both console replicas: the second one added no point of its own.
    history = await stack.get("/api/history")
    assert history == await stack.get("/api/history", console=1)
    assert history["jobs_per_s"] == [3.0]
    assert (await stack.get("/api/overview", console=1))["load"] == point
    assert view["totals"]["created"] == view["totals"]["completed"] == 6

    # Waiting jobs: fill the node, one more waits.
    for index in range(6, 11):
        await session.send(utterance_message(session_id, index, b"audio"))
    for _ in range(4):
        await node.expect("job_assign", skip=("ui_event",))
    view = await stack.tick()
    assert view["waiting_total"] == 1
    pools = {p["pair"]: p for p in view["pools"]}
    assert pools["zh→en"]["waiting"] == 1 and pools["zh→en"]["free_slots"] == 0
    assert view["point"]["waiting"] == 1
    assert (await stack.get("/api/history"))["jobs_per_s"] == [3.0, 2.5]
    for peer in (node, session):
        await peer.close()


async def test_the_event_stream_sends_each_new_view(stack: Stack) -> None:
    await stack.tick()
    headers = {"Authorization": f"Bearer {TENANT}"}
    async with stack.http.get(stack.url("/api/events"), headers=headers) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"] == "text/event-stream"

        async def next_view() -> str:
            lines = []
            while True:
                line = (await asyncio.wait_for(stream.content.readline(), 5)).decode()
                if line == "\n" and lines:
                    return "".join(lines)
                lines.append(line)

        current = await next_view()
        assert current.startswith("event: overview\ndata: {")
        peer, node_id = await registered_node(stack.suite.ws_url())
        await wait_status(stack.suite, node_id, "ready")
        await stack.tick()
        assert node_id in await next_view()
        await peer.close()


async def test_only_operators_drain_and_cancel_and_a_drained_node_gets_no_jobs(
    stack: Stack,
) -> None:
    suite = stack.suite
    first, first_id = await registered_node(suite.ws_url())
    second, second_id = await registered_node(suite.ws_url())
    for node_id in (first_id, second_id):
        await wait_status(suite, node_id, "ready")
    path = f"/api/nodes/{first_id}/drain"

    assert (await stack.post(path, token=TENANT))[0] == 403
    assert (await stack.post(path, headers={}))[0] == 403  # no X-Lingua-Console header
    assert await status_of(suite, first_id) == "ready"
    status, body = await stack.post(path, json={"reason": "disk replacement"})
    assert (status, body) == (200, {"node_id": first_id, "status": "draining"})
    assert await status_of(suite, first_id) == "draining"
    view = await stack.tick()
    drained = next(n for n in view["nodes"] if n["node_id"] == first_id)
    assert drained["idle_reason"] == "draining: disk replacement"

    session, session_id = await open_session(suite.ws_url())
    for index in range(4):
        await session.send(utterance_message(session_id, index, b"audio"))
    jobs = [await second.expect("job_assign", skip=("ui_event",)) for _ in range(4)]
    assert sorted(job["utterance_index"] for job in jobs) == [0, 1, 2, 3]

    status, body = await stack.post(f"/api/jobs/{jobs[0]['job_id']}/cancel")
    assert status == 200 and body["state"] == "cancelled"
    assert (await stack.post("/api/jobs/no-such-job/cancel"))[0] == 404
    assert (await stack.post("/api/nodes/no-such-node/drain"))[0] == 404
    for peer in (first, second, session):
        await peer.close()


async def test_failures_carry_trace_ids_and_a_tenant_sees_only_its_own(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.suite.team_target) as channel:
        stub = dgrpc.DispatcherServiceStub(channel)
        for tenant in ("acme", "globex"):
            with pytest.raises(grpc.aio.AioRpcError):  # nobody serves xx->yy: it fails at once
                await stub.SubmitJob(
                    dpb.SubmitJobRequest(
                        request_id=f"{tenant}/1",
                        tenant_id=tenant,
                        audio=b"a",
                        audio_format="pcm16",
                        sample_rate=16000,
                        src_lang="xx",
                        tgt_lang="yy",
                    )
                )
        listed = await stub.ListJobs(dpb.ListJobsRequest(state=job_pb2.JOB_STATE_FAILED))
    await stack.tick()
    operator_view = await stack.get("/api/overview")
    failures = {f["tenant_id"]: f for f in operator_view["failures"]}
    assert set(failures) == {"acme", "globex"}
    for job in listed.jobs:
        shown = failures[job.tenant_id]
        assert shown["job_id"] == job.job_id
        assert shown["trace_id"] == job.trace_id and len(job.trace_id) == 32
        assert shown["trace_url"] == f"http://jaeger.local/trace/{job.trace_id}"
        assert shown["error"]["code"] == "NO_AVAILABLE_NODE"
    tenant_view = await stack.get("/api/overview", token=TENANT)
    assert [f["tenant_id"] for f in tenant_view["failures"]] == ["acme"]


async def test_credentials(stack: Stack) -> None:
    async with stack.http.get(stack.url("/api/overview")) as response:
        assert response.status == 401
    async with stack.http.get(
        stack.url("/api/overview"), headers={"Authorization": "Bearer wrong"}
    ) as response:
        assert response.status == 401
    # The page and its assets are public (they hold no data); the API is not.
    async with stack.http.get(stack.url("/")) as response:
        assert response.status == 200
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    async with stack.http.get(stack.url("/static/vendor/uplot/uPlot.iife.min.js")) as response:
        assert response.status == 200
    async with stack.http.get(stack.url("/static/../settings.py")) as response:
        assert response.status in (403, 404)

    # A login sets an HttpOnly, SameSite=Strict cookie that then stands for the token.
    # (unsafe=True: aiohttp's jar keeps no cookie of an IP address otherwise)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        url = stack.url("/api/login")
        async with browser.post(url, json={"token": "wrong"}) as response:
            assert response.status == 401
        async with browser.post(url, json={"token": TENANT}) as response:
            assert response.status == 200
            assert await response.json() == {"tenant": "acme", "operator": False}
            cookie = response.cookies["lingua_console"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        async with browser.get(stack.url("/api/session")) as response:
            assert (await response.json())["tenant"] == "acme"
        async with browser.post(stack.url("/api/logout"), headers=ACTION) as response:
            assert response.status == 200
        async with browser.get(stack.url("/api/session")) as response:
            assert response.status == 401


async def test_a_full_house_of_live_pages_refuses_one_more(stack: Stack) -> None:
    feed = stack.consoles[0].feed
    subscriptions = []
    while True:
        try:
            subscriptions.append(feed.join())
        except TooManyClients:
            break
    headers = {"Authorization": f"Bearer {OPERATOR}"}
    async with stack.http.get(stack.url("/api/events"), headers=headers) as response:
        assert response.status == 503
    for subscription in subscriptions:
        subscription.close()
    async with stack.http.get(stack.url("/api/overview"), headers=headers) as response:
        assert response.status == 200
