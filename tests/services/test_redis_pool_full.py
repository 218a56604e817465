"""A replica whose Redis connections are all in use fails the one call that found the
pool full, at once, with RESOURCE_EXHAUSTED and a message that says so; the next call
after a connection is back succeeds. Real pool, real Redis, the services' real gRPC
server and interceptors (a probe method stands in for any store-backed call)."""

from __future__ import annotations

import dataclasses
from typing import Any

import grpc
import pytest

from lingua_common.errors import ERROR_CODE_METADATA_KEY
from lingua_common.grpc_app import ServiceApp
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from tests.suite import LOCAL

METHOD = "/lingua.test.v1.Probe/Get"


def probe_app(client: Any) -> ServiceApp:
    async def get(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        value = await client.get("probe")
        return bytes(value or b"")

    app = ServiceApp("probe", dataclasses.replace(LOCAL, metrics_port=-1))
    handler = grpc.unary_unary_rpc_method_handler(
        get, request_deserializer=None, response_serializer=None
    )
    app.server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("lingua.test.v1.Probe", {"Get": handler}),)
    )
    return app


async def test_a_full_pool_fails_the_call_that_found_it_full(
    single_redis_settings: RedisSettings,
) -> None:
    client = connect(dataclasses.replace(single_redis_settings, max_connections=1))
    await client.set("probe", b"v")
    app = probe_app(client)
    await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports['grpc']}") as channel:
            call = channel.unary_unary(METHOD)
            assert await call(b"", timeout=5) == b"v"
            held = await client.connection_pool.get_connection()  # the only one
            with pytest.raises(grpc.aio.AioRpcError) as full:
                await call(b"", timeout=5)
            assert full.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "LINGUA_REDIS_MAX_CONNECTIONS" in (full.value.details() or "")
            trailing = dict(full.value.trailing_metadata() or ())
            assert trailing[ERROR_CODE_METADATA_KEY] == "SCHEDULER_DEPENDENCY_DOWN"
            await client.connection_pool.release(held)
            assert await call(b"", timeout=5) == b"v"
    finally:
        await app.stop()
        await client.aclose()
