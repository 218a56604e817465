"""Property: whatever the interleaving of creates, duplicates, results, stale results,
timeouts, cancels, node losses and reconnects, afterwards

- every node's running count equals its jobs actually in flight,
- every job is in one valid state (a terminal job holds no slot),
- every client got exactly one answer per accepted utterance.

Real services, real WebSockets, real Redis (server and cluster); a manual clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from tests.peers import Peer, heartbeat_message, open_session, register_message, utterance_message
from tests.suite import InProcessSuite, team_address

pytestmark = pytest.mark.timeout(300)

LIVE = {b"created", b"pending", b"dispatched", b"accepted"}
STEPS = st.lists(
    st.sampled_from(
        [
            "utter",
            "utter",
            "utter",
            "duplicate",
            "result",
            "result",
            "duplicate_result",
            "stale_result",
            "timeout",
            "cancel",
            "offline",
            "reconnect",
        ]
    ),
    min_size=4,
    max_size=14,
)
counter = itertools.count()


@dataclass
class World:
    suite: InProcessSuite
    clock: ManualClock
    nodes: dict[str, Peer | None] = field(default_factory=dict)
    client: Peer | None = None
    session_id: str = ""
    next_index: int = 0
    answers: Counter[int] = field(default_factory=Counter)
    assigned: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    async def drain_node_inbox(self) -> None:
        for node_id, peer in self.nodes.items():
            if peer is None:
                continue
            with contextlib.suppress(TimeoutError, ConnectionClosed):
                while True:
                    message = await peer.recv(wait_s=0.05)
                    if message["type"] == "job_assign":
                        self.assigned[str(message["job_id"])] = (node_id, message)

    async def drain_client(self) -> None:
        assert self.client is not None
        with contextlib.suppress(TimeoutError):
            while True:
                message = await self.client.recv(wait_s=0.05)
                if message["type"] in ("translation_result", "missing_result"):
                    self.answers[int(message["utterance_index"])] += 1
                elif message["type"] == "error" and "utterance_index" in message.get("details", {}):
                    self.answers[int(message["details"]["utterance_index"])] += 1


async def connect_node(url: str, node_id: str) -> Peer:
    peer = await Peer.open(url + "/ws/node")
    await peer.send(register_message(node_id=node_id))
    await peer.expect("node_register_ack")
    await peer.send(heartbeat_message(node_id))
    return peer


def result_message(node_id: str, assign: dict[str, Any], attempt_delta: int = 0) -> dict[str, Any]:
    return {
        "type": "job_result",
        "job_id": assign["job_id"],
        "attempt_id": int(assign["attempt_id"]) + attempt_delta,
        "node_id": node_id,
        "session_id": assign["session_id"],
        "utterance_index": assign["utterance_index"],
        "success": True,
        "trace_id": assign["trace_id"],
        "text_asr": "a",
        "text_translated": "b",
    }


async def step(world: World, action: str, stub: pb_grpc.DispatcherServiceStub) -> None:
    suite, url = world.suite, world.suite.ws_url()
    assert world.client is not None
    await world.drain_node_inbox()
    live = [(j, n, a) for j, (n, a) in world.assigned.items() if world.nodes.get(n) is not None]
    if action == "utter":
        await world.client.send(utterance_message(world.session_id, world.next_index, b"x"))
        world.next_index += 1
    elif action == "duplicate" and world.next_index:
        await world.client.send(utterance_message(world.session_id, world.next_index - 1, b"x"))
    elif action in ("result", "duplicate_result", "stale_result") and live:
        job_id, node_id, assign = live[0]
        peer = world.nodes[node_id]
        assert peer is not None
        delta = 5 if action == "stale_result" else 0
        with contextlib.suppress(ConnectionClosed):
            await peer.send(result_message(node_id, assign, delta))
            if action == "duplicate_result":
                await peer.send(result_message(node_id, assign))
        if action != "stale_result":
            del world.assigned[job_id]
    elif action == "timeout":
        await asyncio.sleep(0.3)
        world.clock.advance(15_001)
    elif action == "cancel" and live:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await stub.CancelJob(pb.CancelJobRequest(job_id=live[0][0], reason="test"))
    elif action == "offline":
        for node_id, peer in world.nodes.items():
            if peer is not None:
                await peer.close()
                world.nodes[node_id] = None
                break
    elif action == "reconnect":
        for node_id, peer in world.nodes.items():
            if peer is None:
                world.nodes[node_id] = await connect_node(url, node_id)
                break
    del suite
    await asyncio.sleep(0.05)


async def settle_everything(world: World) -> None:
    """Answer whatever is still assigned and let every deadline pass, until quiet."""
    for _ in range(8):
        await asyncio.sleep(0.3)
        await world.drain_node_inbox()
        for job_id, (node_id, assign) in list(world.assigned.items()):
            peer = world.nodes.get(node_id)
            if peer is not None:
                with contextlib.suppress(ConnectionClosed):
                    await peer.send(result_message(node_id, assign))
            del world.assigned[job_id]
        await asyncio.sleep(0.3)
        world.clock.advance(16_000)
        await world.drain_client()
        if sum(world.answers.values()) >= world.next_index and not world.assigned:
            break
    await asyncio.sleep(0.5)
    await world.drain_client()


async def check_invariants(world: World) -> None:
    keys = Keys(world.suite.redis.key_prefix)
    client = connect(world.suite.redis)
    try:
        jobs = [j.decode() for j in await client.zrange(keys.session_jobs(world.session_id), 0, -1)]
        held: Counter[str] = Counter()
        for job_id in jobs:
            record = await client.hgetall(keys.job(job_id))
            state = record[b"state"]
            assert state in LIVE | {b"completed", b"failed", b"cancelled"}, state
            if state in (b"dispatched", b"accepted"):
                held[record[b"node_id"].decode()] += 1
        for node_id in world.nodes:
            inflight = await client.hgetall(keys.node_inflight(node_id))
            assert len(inflight) == held[node_id], (node_id, inflight, held)
    finally:
        await client.aclose()
    # Exactly one answer per accepted utterance, none for the rest.
    assert all(count == 1 for count in world.answers.values()), world.answers
    assert sorted(world.answers) == list(range(world.next_index)), (world.answers, world.next_index)


@pytest.fixture
async def world_suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    suite = await InProcessSuite(
        redis_settings,
        clock=ManualClock(),
        registry_overrides={"heartbeat_interval_ms": 3_600_000},
    ).start()
    yield suite
    await suite.stop()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
async def test_invariants_hold_over_random_interleavings(
    world_suite: InProcessSuite, steps: list[str]
) -> None:
    suite = world_suite
    assert isinstance(suite.clock, ManualClock)
    run = next(counter)
    world = World(suite, suite.clock)
    for i in range(2):
        node_id = f"node-inv-{run}-{i}"
        world.nodes[node_id] = await connect_node(suite.ws_url(), node_id)
    await asyncio.sleep(0.3)
    world.client, world.session_id = await open_session(suite.ws_url())
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        for action in steps:
            await step(world, action, stub)
    await settle_everything(world)
    await check_invariants(world)
    for peer in [*world.nodes.values(), world.client]:
        if peer is not None:
            with contextlib.suppress(ConnectionClosed):
                await peer.close()
