"""The Redis clients' closes, on a real 3-master cluster and a single server.

redis-py calls aclose() itself to refresh the topology after a failover, so aclose()
must leave a client that reconnects; the process's own close at shutdown must stick.
"""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from lingua_common.redis_client import close, connect, initialize
from lingua_common.settings import RedisSettings
from tools.launcher.redis_server import RedisClusterServers


@pytest.fixture
def cluster_settings(redis_cluster: RedisClusterServers) -> RedisSettings:
    return RedisSettings(url=redis_cluster.url, cluster=True, key_prefix="closing:v1")


async def test_aclose_is_a_topology_refresh_the_next_command_reconnects(
    cluster_settings: RedisSettings,
) -> None:
    client = connect(cluster_settings)
    await initialize(client)
    await client.aclose()  # what redis-py does on CLUSTERDOWN / MOVED storms
    assert await client.set("{closing}:a", "1")
    await close(client)


async def test_the_shutdown_close_sticks(cluster_settings: RedisSettings) -> None:
    client = connect(cluster_settings)
    await initialize(client)
    await close(client)
    with pytest.raises(RedisConnectionError, match="closed"):
        await client.get("{closing}:a")  # a late command must not reopen connections


async def test_the_single_server_clients_shutdown_close_sticks_too(
    single_redis_settings: RedisSettings,
) -> None:
    # A command still under way when the process closes its client (or one of redis-py's
    # retries of it) would reconnect a connection the closed pool no longer tracks.
    client = connect(single_redis_settings)
    await initialize(client)
    await client.aclose()  # a plain aclose() still leaves a client that reconnects
    assert await client.ping()
    await close(client)
    with pytest.raises(RedisConnectionError):
        await client.ping()
