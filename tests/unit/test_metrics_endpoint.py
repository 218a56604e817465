"""GET /metrics: the text format, refusals (404, 405, 431, 400), scrape-time gauge
refreshes that fail or hang without failing the scrape, and the app wiring (port,
ready file, no listener when disabled)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import orjson
import pytest
from prometheus_client import Gauge
from redis.exceptions import ConnectionError as RedisConnectionError

from lingua_common.api_auth import ApiAuthSettings
from lingua_common.grpc_app import ServiceApp
from lingua_common.metrics import service as metrics_service
from lingua_common.metrics.endpoint import MAX_REQUEST_BYTES, MetricsEndpoint
from lingua_common.metrics.service import ServiceMetrics
from lingua_common.settings import ServerSettings
from services.dispatcher.settings import DispatcherSettings
from services.gateway.settings import GatewaySettings
from services.pool.settings import PoolSettings
from services.registry.settings import RegistrySettings
from tests.metrics_scrape import Samples, http_get, http_request, scrape

OPEN_AUTH = ApiAuthSettings(disabled=True)


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics()


@pytest.fixture
async def port(metrics: ServiceMetrics) -> AsyncIterator[int]:
    endpoint = MetricsEndpoint(metrics.render)
    bound = await endpoint.start("127.0.0.1", 0)
    yield bound
    await endpoint.close()


async def test_get_metrics_answers_the_prometheus_text_format(
    metrics: ServiceMetrics, port: int
) -> None:
    Gauge("lingua_test_value", "a test gauge", registry=metrics.registry).set(7)
    reply = await http_get(port)
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(reply.headers["content-length"]) == len(reply.body)
    samples = Samples().add_text(reply.body.decode())
    assert samples.get("lingua_test_value") == 7
    # Every service has these, before any traffic.
    assert samples.get("lingua_redis_errors_total", where="rpc") == 0
    assert "process_cpu_seconds_total" in samples.names()
    # A query string is no other resource.
    assert (await http_get(port, "/metrics?debug=1")).status == 200


async def test_each_app_registry_exports_only_its_own_series() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    Gauge("lingua_only_here", "x", registry=first.registry).set(1)
    assert b"lingua_only_here" in await first.render()
    assert b"lingua_only_here" not in await second.render()


@pytest.mark.parametrize("path", ["/", "/metricsx", "/healthz", "/metrics/"])
async def test_other_paths_are_not_found(port: int, path: str) -> None:
    assert (await http_get(port, path)).status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
async def test_other_methods_are_not_allowed(port: int, method: str) -> None:
    reply = await http_get(port, "/metrics", method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET"


async def test_an_oversized_request_is_refused(port: int) -> None:
    padding = "x" * (MAX_REQUEST_BYTES + 1)
    reply = await http_request(port, f"GET /metrics HTTP/1.1\r\nX-Pad: {padding}\r\n\r\n".encode())
    assert reply.status == 431


@pytest.mark.parametrize("line", ["GET /metrics", "HELLO", "GET /metrics SPDY/3"])
async def test_what_is_not_http_is_a_bad_request(port: int, line: str) -> None:
    assert (await http_request(port, f"{line}\r\n\r\n".encode())).status == 400


async def test_a_peer_that_leaves_mid_request_gets_nothing_and_breaks_nothing(port: int) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metr")
    writer.close()
    await writer.wait_closed()
    assert (await http_get(port)).status == 200


async def test_close_ends_connections_that_never_finish_their_request(
    metrics: ServiceMetrics,
) -> None:
    endpoint = MetricsEndpoint(metrics.render)
    bound = await endpoint.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", bound)
    writer.write(b"GET /metrics HTTP/1.1\r\n")  # and never the blank line
    await writer.drain()
    await asyncio.sleep(0.05)
    await asyncio.wait_for(endpoint.close(), 2)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    await writer.wait_closed()


async def test_gauges_are_refreshed_just_before_each_scrape(
    metrics: ServiceMetrics, port: int
) -> None:
    gauge = Gauge("lingua_test_depth", "refreshed at scrape time", registry=metrics.registry)
    reads = []

    async def refresh() -> None:
        reads.append(1)
        gauge.set(len(reads) * 10)

    metrics.on_scrape(refresh)
    assert (await scrape(port)).get("lingua_test_depth") == 10
    assert (await scrape(port)).get("lingua_test_depth") == 20


async def test_a_failing_refresh_is_counted_and_the_scrape_still_answers(
    metrics: ServiceMetrics, port: int
) -> None:
    gauge = Gauge("lingua_test_fresh", "set by the good hook", registry=metrics.registry)

    async def good() -> None:
        gauge.set(1)

    async def redis_down() -> None:
        raise RedisConnectionError("connection refused")

    async def bug() -> None:
        raise ValueError("a bug in a hook")

    for hook in (good, redis_down, bug):
        metrics.on_scrape(hook)
    samples = await scrape(port)
    assert samples.get("lingua_test_fresh") == 1
    assert samples.get("lingua_metrics_refresh_errors_total") == 2
    assert samples.get("lingua_redis_errors_total", where="scrape") == 1


async def test_a_hanging_refresh_is_cut_short_and_stale_values_are_served(
    metrics: ServiceMetrics, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_service, "REFRESH_TIMEOUT_S", 0.05)
    gauge = Gauge("lingua_test_stale", "last known value", registry=metrics.registry)
    gauge.set(3)
    hang = asyncio.Event()

    async def stuck() -> None:
        await hang.wait()

    metrics.on_scrape(stuck)
    samples = await scrape(port)
    assert samples.get("lingua_test_stale") == 3
    assert samples.get("lingua_metrics_refresh_errors_total") == 1


async def test_the_app_serves_metrics_on_its_port_and_reports_it(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    app = ServiceApp(
        "probe",
        ServerSettings(metrics_port=0, ready_file=str(ready), shutdown_grace_s=0.1, auth=OPEN_AUTH),
    )
    await app.start()
    try:
        port = app.ports["metrics"]
        assert orjson.loads(ready.read_bytes())["ports"]["metrics"] == port
        assert (await http_get(port)).status == 200
    finally:
        await app.stop()
    with pytest.raises(ConnectionError):
        await http_get(port)


async def test_a_negative_metrics_port_opens_no_listener() -> None:
    app = ServiceApp("quiet", ServerSettings(metrics_port=-1, shutdown_grace_s=0.1, auth=OPEN_AUTH))
    await app.start()
    try:
        assert "metrics" not in app.ports
    finally:
        await app.stop()


def test_every_service_reads_its_metrics_port_from_the_environment() -> None:
    defaults = {
        RegistrySettings: 9101,
        PoolSettings: 9102,
        DispatcherSettings: 9103,
        GatewaySettings: 9104,
    }
    env = {"LINGUA_AUTH_DISABLED": "true"}
    for settings, port in defaults.items():
        assert settings.from_env(env).server.metrics_port == port
        chosen = settings.from_env({**env, "LINGUA_METRICS_PORT": "0"}).server.metrics_port
        assert chosen == 0


async def test_redis_errors_are_counted_in_calls_and_in_background_loops() -> None:
    app = ServiceApp(
        "failing", ServerSettings(metrics_port=0, shutdown_grace_s=0.1, auth=OPEN_AUTH)
    )

    async def call(request: bytes, context: object) -> bytes:
        raise RedisConnectionError("redis is down")

    handler = grpc.unary_unary_rpc_method_handler(call)
    app.server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Store", {"Read": handler}),)
    )
    failed = asyncio.Event()

    async def loop() -> None:
        if not failed.is_set():
            failed.set()
            raise RedisConnectionError("redis is down")
        await asyncio.Event().wait()

    app.run_in_background(loop)
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports['grpc']}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await channel.unary_unary("/test.Store/Read")(b"")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        await asyncio.wait_for(failed.wait(), 2)
        samples = await scrape(app.ports["metrics"])
        assert samples.get("lingua_redis_errors_total", where="rpc") == 1
        assert samples.get("lingua_redis_errors_total", where="background") == 1
    finally:
        await app.stop()
