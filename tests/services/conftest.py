from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lingua_common.grpc_app import ServiceApp
from lingua_common.settings import RedisSettings
from services.pool.app import build_app as build_pool
from services.pool.settings import PoolSettings
from tests.suite import LOCAL, InProcessSuite


@pytest.fixture
async def suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(redis_settings, gateways=2).start()
    yield running
    await running.stop()


@pytest.fixture
async def pool(redis_settings: RedisSettings) -> AsyncIterator[ServiceApp]:
    """A pool-index service of its own (real gRPC, real Redis)."""
    app = build_pool(PoolSettings(server=LOCAL, redis=redis_settings))
    await app.start()
    yield app
    await app.stop()
