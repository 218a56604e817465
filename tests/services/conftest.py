from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lingua_common.settings import RedisSettings
from tests.suite import InProcessSuite


@pytest.fixture
async def suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(redis_settings, gateways=2).start()
    yield running
    await running.stop()
