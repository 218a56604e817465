"""The `lingua` command against a real in-process stack: its own thread and event loop
(as in a terminal), the services in the test's loop, real gRPC and real HTTP between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import orjson
import pytest
from typer.testing import CliRunner

from lingua_common.settings import RedisSettings
from tests.suite import InProcessSuite, grpc_address
from tools.cli.app import app


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        assert self.code == 0, (self.code, self.stderr)
        return orjson.loads(self.stdout)


def suite_env(suite: InProcessSuite) -> dict[str, str]:
    """What an operator would export to reach this stack (no discovery file)."""
    metrics = [f"http://127.0.0.1:{a.ports['metrics']}/metrics" for a in suite.apps]
    return {
        "LINGUA_REGISTRY_ADDRESS": grpc_address(suite.registry),
        "LINGUA_POOL_ADDRESS": grpc_address(suite.pool),
        "LINGUA_DISPATCHER_TEAM_ADDRESS": suite.team_target,
        "LINGUA_METRICS_URLS": ",".join(metrics),
    }


async def run_cli(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
    """Run `lingua ARGS` in a thread (the command runs its own event loop)."""
    environment = {"COLUMNS": "250", "LINGUA_STACK_FILE": "", **(env or {})}

    def invoke() -> CliResult:
        result = CliRunner().invoke(app, list(args), env=environment, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return await asyncio.to_thread(invoke)


@pytest.fixture
async def suite(single_redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(
        single_redis_settings,
        gateways=1,
        dispatchers=2,
        # A job for a pair nobody serves fails at once (the failures tests need one).
        dispatcher_overrides={"no_node_wait_ms": 0},
    ).start()
    yield running
    await running.stop()
