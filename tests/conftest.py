"""Shared fixtures: a real redis-server and a real Redis Cluster on free loopback ports.

Each test gets its own key prefix, so tests never see each other's keys and nothing
needs flushing. Store tests run on both backends through the `redis_settings` fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, connect, initialize
from lingua_common.settings import RedisSettings
from tools.launcher.redis_server import RedisClusterServers, RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    cluster = RedisClusterServers(masters=3).start()
    yield cluster
    cluster.cleanup()


@pytest.fixture(params=["single", "cluster"])
def redis_settings(
    request: pytest.FixtureRequest,
) -> RedisSettings:
    prefix = f"t{uuid.uuid4().hex[:10]}:v1"
    if request.param == "cluster":
        cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
        return RedisSettings(url=cluster.url, cluster=True, key_prefix=prefix)
    server: RedisServer = request.getfixturevalue("redis_server")
    return RedisSettings(url=server.url, cluster=False, key_prefix=prefix)


@pytest.fixture
def single_redis_settings(redis_server: RedisServer) -> RedisSettings:
    return RedisSettings(url=redis_server.url, key_prefix=f"t{uuid.uuid4().hex[:10]}:v1")


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    client = connect(redis_settings)
    await initialize(client)
    yield client
    await client.aclose()


@pytest.fixture
def keys(redis_settings: RedisSettings) -> Keys:
    return Keys(redis_settings.key_prefix)


@pytest.fixture
def lua(redis_client: RedisClient) -> LuaScripts:
    return LuaScripts(redis_client)
