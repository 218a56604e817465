"""The cluster client's two closes, on a real 3-master cluster.

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
