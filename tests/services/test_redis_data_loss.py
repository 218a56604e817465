"""Redis restarted empty (no persistence, as `make up` runs it) in the middle of a
session: nothing is restarted on our side. Every utterance accepted before the loss gets
its real translation, none waits for JOB_TIMEOUT, the stack takes new nodes and new pairs
afterwards (the pool index is not frozen on the lost feed), and no slot is left held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tests.suite import InProcessSuite
from tools.launcher.redis_server import RedisServer

pytestmark = pytest.mark.timeout(90)

ANSWER_KINDS = ("translation_result", "error", "missing_result")


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test alone: it is killed and started again, empty."""
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
async def suite(own_redis: RedisServer) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(RedisSettings(url=own_redis.url), gateways=2).start()
    yield running
    await running.stop()


def restart_empty(server: RedisServer) -> None:
    server.kill()
    server.spawn()
    server.wait_ready()


async def answers(client: Peer, count: int, wait_s: float = 20.0) -> list[dict[str, object]]:
    seen = []
    while len(seen) < count:
        message = await client.recv(wait_s=wait_s)
        if message["type"] in ANSWER_KINDS:
            seen.append(message)
    return seen


async def slots_held(suite: InProcessSuite, node_ids: list[str]) -> int:
    keys, redis = Keys(suite.redis.key_prefix), connect(suite.redis)
    try:
        return sum([int(await redis.hlen(keys.node_inflight(n))) for n in node_ids])
    finally:
        await redis.aclose()


async def test_redis_restarted_empty_loses_no_accepted_utterance(
    suite: InProcessSuite, own_redis: RedisServer
) -> None:
    node, node_id = await registered_node(suite.ws_url(0))
    client, session_id = await open_session(suite.ws_url(1))
    await client.send(utterance_message(session_id, 0, b"warm up"))
    assign = await node.expect("job_assign", wait_s=10)
    await node.send(result_for(assign, node_id, "t0"))
    [first] = await answers(client, 1)
    assert first["type"] == "translation_result"

    # Four utterances on the node when Redis loses everything.
    for index in range(1, 5):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    held = [await node.expect("job_assign", wait_s=10) for _ in range(4)]
    restart_empty(own_redis)
    loop = asyncio.get_running_loop()
    back_at = loop.time()
    for assign in held:  # the node finishes what it had, as if nothing happened
        await node.send(result_for(assign, node_id, f"t{assign['utterance_index']}"))

    got = await answers(client, 4)
    first_answer_s = loop.time() - back_at
    assert [a["type"] for a in got] == ["translation_result"] * 4, got
    assert [a["utterance_index"] for a in got] == [1, 2, 3, 4]
    assert [a["text_asr"] for a in got] == ["t1", "t2", "t3", "t4"]
    assert first_answer_s < 10, first_answer_s  # seconds, not the 60 s of JOB_TIMEOUT

    # Life goes on: a new utterance, and a node for a new pair (the index follows the
    # new change feed, not the lost one).
    await client.send(utterance_message(session_id, 5, b"after"))
    assign = await node.expect("job_assign", wait_s=15, skip=("job_cancel",))
    await node.send(result_for(assign, node_id, "t5"))
    [after] = await answers(client, 1)
    assert (after["type"], after["utterance_index"]) == ("translation_result", 5)
    other, other_id = await registered_node(suite.ws_url(0), pairs=[("en", "de")])
    german, german_session = await open_session(suite.ws_url(1), "en", "de")
    await german.send(utterance_message(german_session, 0, b"hello", "en", "de"))
    assign = await other.expect("job_assign", wait_s=15)
    await other.send(result_for(assign, other_id, "hallo"))
    [answer] = await answers(german, 1)
    assert answer["type"] == "translation_result"

    deadline = loop.time() + 10
    while await slots_held(suite, [node_id, other_id]):
        assert loop.time() < deadline, "slots still held"
        await asyncio.sleep(0.1)
    for peer in (node, client, other, german):
        await peer.close()
