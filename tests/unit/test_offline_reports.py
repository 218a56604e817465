"""A closed node socket's offline report: bounded at once, tried again when the
registry is swamped or briefly away, given up after a few attempts."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import grpc
import pytest

from lingua.registry.v1 import registry_service_pb2 as pb
from services.gateway import node_calls
from services.gateway.context import GatewayContext


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), "test", None)


class Registry:
    """Answers DeregisterNode from a script of failures, then succeeds."""

    def __init__(self, failures: list[grpc.StatusCode], delay_s: float = 0.0) -> None:
        self.failures = list(failures)
        self.delay_s = delay_s
        self.calls: list[pb.DeregisterNodeRequest] = []
        self.at_once = 0
        self.most_at_once = 0

    async def DeregisterNode(
        self,
        request: pb.DeregisterNodeRequest,
        timeout: float,  # noqa: ASYNC109 - the stub's signature
    ) -> pb.DeregisterNodeResponse:
        self.calls.append(request)
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await asyncio.sleep(self.delay_s)
            if self.failures:
                raise rpc_error(self.failures.pop(0))
            return pb.DeregisterNodeResponse(applied=True)
        finally:
            self.at_once -= 1


def context(registry: Registry, at_once: int = 64) -> GatewayContext:
    ctx: Any = SimpleNamespace(
        settings=SimpleNamespace(node_offline_grace_ms=0),
        registry=registry,
        rpc_timeout_s=1.0,
        offline_reports=asyncio.Semaphore(at_once),
    )
    return cast(GatewayContext, ctx)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_calls, "OFFLINE_REPORT_BACKOFF_S", 0.001)


async def test_a_report_that_timed_out_is_sent_again() -> None:
    registry = Registry([grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE])
    await node_calls.offline_after_grace(context(registry), "node-1", 4)
    assert len(registry.calls) == 3
    assert {(c.node_id, c.epoch) for c in registry.calls} == {("node-1", 4)}


async def test_attempts_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    registry = Registry([grpc.StatusCode.UNAVAILABLE] * 10)
    await node_calls.offline_after_grace(context(registry), "node-1", 1)
    assert len(registry.calls) == node_calls.OFFLINE_REPORT_ATTEMPTS
    assert "deregister failed" in caplog.text


async def test_a_refusal_is_not_retried() -> None:
    registry = Registry([grpc.StatusCode.INVALID_ARGUMENT])
    await node_calls.offline_after_grace(context(registry), "node-1", 1)
    assert len(registry.calls) == 1


async def test_a_mass_disconnect_reports_a_bounded_number_at_once() -> None:
    registry = Registry([], delay_s=0.005)
    ctx = context(registry, at_once=8)
    await asyncio.gather(*(node_calls.offline_after_grace(ctx, f"node-{i}", 1) for i in range(100)))
    assert len(registry.calls) == 100
    assert registry.most_at_once == 8
