"""The job path's link under real network faults: the gateway reaches its dispatcher
through a TCP proxy that cuts the connection in the middle of the traffic (each
direction) or stalls it. Nothing is lost, nothing is applied twice (each job's history
in Redis says so), every answer arrives once and in order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tests.suite import InProcessSuite
from tests.tcp_proxy import TcpProxy

UTTERANCES = 30
SKIP = ("ui_event", "job_cancel")


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    running = await TcpProxy().start()
    yield running
    await running.close()


@pytest.fixture
async def proxied(redis_settings: RedisSettings, proxy: TcpProxy) -> AsyncIterator[InProcessSuite]:
    """One gateway whose only way to the dispatcher is the proxy."""
    suite = InProcessSuite(
        redis_settings,
        gateways=1,
        # A stall must not be mistaken for an unconfirmed reservation.
        dispatcher_overrides={"advertise_address": proxy.address, "reservation_ttl_ms": 20_000},
    )
    await suite.start()
    proxy.target_port = suite.dispatcher.ports["grpc"]
    try:
        yield suite
    finally:
        await suite.stop()


class Node:
    """A node that answers every assignment at once and counts what it was given."""

    def __init__(self, peer: Peer, node_id: str) -> None:
        self.peer, self.node_id = peer, node_id
        self.assigned: Counter[tuple[str, int]] = Counter()
        self.task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            message = await self.peer.recv(wait_s=120)
            if message["type"] == "job_assign":
                self.assigned[(message["job_id"], message["attempt_id"])] += 1
                await self.peer.send(
                    result_for(message, self.node_id, f"t{message['utterance_index']}")
                )

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.peer.close()


async def answers(client: Peer, count: int) -> list[dict[str, object]]:
    seen = []
    while len(seen) < count:
        message = await client.recv(wait_s=30)
        if message["type"] in ("translation_result", "error", "missing_result"):
            seen.append(message)
    return seen


async def histories(suite: InProcessSuite, job_ids: set[str]) -> dict[str, list[str]]:
    keys, redis = Keys(suite.redis.key_prefix), connect(suite.redis)
    try:
        return {
            job_id: [f[b"kind"].decode() for _, f in await redis.xrange(keys.job_events(job_id))]
            for job_id in job_ids
        }
    finally:
        await redis.aclose()


async def slots_held(suite: InProcessSuite, node_id: str) -> int:
    keys, redis = Keys(suite.redis.key_prefix), connect(suite.redis)
    try:
        return int(await redis.hlen(keys.node_inflight(node_id)))
    finally:
        await redis.aclose()


async def run_through_a_fault(suite: InProcessSuite, proxy: TcpProxy, fault: str) -> None:
    node = Node(*await registered_node(suite.ws_url()))
    client, session_id = await open_session(suite.ws_url())
    # One round trip first: the link is up and the node indexed.
    await client.send(utterance_message(session_id, 0, b"warm up"))
    [first] = await answers(client, 1)
    assert first["type"] == "translation_result"
    direction, _, how_far = fault.partition(":")
    proxy.cut_after(direction, int(how_far))
    for index in range(1, UTTERANCES + 1):
        await client.send(utterance_message(session_id, index, f"u{index}".encode() * 700))
    got = await answers(client, UTTERANCES)
    assert proxy.cuts >= 1, "the fault never happened"
    # Every answer once, in order, with the node's real translation.
    assert [a["utterance_index"] for a in got] == list(range(1, UTTERANCES + 1))
    assert [a.get("text_asr") for a in got] == [f"t{i}" for i in range(1, UTTERANCES + 1)]
    # The node never got the same job attempt twice (a resent assignment is dropped).
    assert max(node.assigned.values()) == 1
    # Redis saw each job created once and finished once, whatever was sent again.
    job_ids = {str(a["job_id"]) for a in [first, *got]}
    for job_id, kinds in (await histories(suite, job_ids)).items():
        counts = Counter(kinds)
        assert (counts["created"], counts["completed"]) == (1, 1), (job_id, kinds)
    assert await slots_held(suite, node.node_id) == 0
    await node.close()
    await client.close()


@pytest.mark.parametrize("fault", ["up:3000", "up:30000", "down:2000", "down:30000"])
async def test_a_link_cut_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(
    proxied: InProcessSuite, proxy: TcpProxy, fault: str
) -> None:
    await run_through_a_fault(proxied, proxy, fault)


async def test_a_link_that_stalls_for_five_seconds_delivers_every_answer_once_after(
    proxied: InProcessSuite, proxy: TcpProxy
) -> None:
    node = Node(*await registered_node(proxied.ws_url()))
    client, session_id = await open_session(proxied.ws_url())
    await client.send(utterance_message(session_id, 0, b"warm up"))
    await answers(client, 1)
    proxy.stall()
    for index in range(1, 11):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    with pytest.raises(TimeoutError):
        await client.expect("translation_result", wait_s=5.0)  # five seconds of silence
    proxy.resume()
    got = await answers(client, 10)
    assert [a["utterance_index"] for a in got] == list(range(1, 11))
    assert all(a["type"] == "translation_result" for a in got)
    assert await slots_held(proxied, node.node_id) == 0
    await node.close()
    await client.close()
