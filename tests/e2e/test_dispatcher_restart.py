"""The only dispatcher killed (SIGKILL) with jobs running and jobs waiting, then
restarted: the node's results reach the new process, which accepts them and frees their
slots; the waiting jobs are placed; every utterance gets its real answer, in order, and no
slot is held afterwards. (One of two replicas killed: tests/e2e/test_failover.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from tests.e2e.readiness import indexed
from tests.peers import open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

UTTERANCES = 12
SLOTS = 4  # LINGUA_NODE_MAX_JOBS


@pytest.fixture
def one_dispatcher(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(
        StackConfig(
            gateway_ws_ports=(0, 0),
            run_dir=tmp_path,
            env={"LINGUA_NODE_MAX_JOBS": str(SLOTS), "LINGUA_METRICS_PORT": "0"},
        )
    ).start()
    yield running
    running.stop()


async def slots_held(stack: Stack) -> int:
    redis = connect(RedisSettings(url=stack.redis_url))
    keys = Keys()
    try:
        held = 0
        for node_id in await redis.smembers(keys.nodes_all()):
            held += int(await redis.hlen(keys.node_inflight(node_id.decode())))
        return held
    finally:
        await redis.aclose()


async def test_a_restarted_dispatcher_takes_the_results_and_places_what_waited(
    one_dispatcher: Stack,
) -> None:
    stack = one_dispatcher
    node, node_id = await registered_node(stack.gateway_urls[0])
    client, session_id = await open_session(stack.gateway_urls[1])
    await indexed(stack, node_id, "zh", "en")
    for index in range(UTTERANCES):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    running = [await node.expect("job_assign", wait_s=10) for _ in range(SLOTS)]
    with pytest.raises(TimeoutError):  # the other eight wait for a slot
        await node.expect("job_assign", wait_s=0.5)

    stack.dispatchers[0].kill()  # SIGKILL: nothing of its memory survives
    for assign in running:  # the node finishes while no dispatcher is there
        await node.send(result_for(assign, node_id, f"t{assign['utterance_index']}"))
    await asyncio.sleep(0.5)
    stack.dispatchers[0].start()
    stack.dispatchers[0].wait_ready()

    answered = 0
    while answered < UTTERANCES - SLOTS:
        assign = await node.expect("job_assign", wait_s=20, skip=("job_cancel",))
        await node.send(result_for(assign, node_id, f"t{assign['utterance_index']}"))
        answered += 1
    results = []
    while len(results) < UTTERANCES:
        message = await client.recv(wait_s=20)
        if message["type"] in ("translation_result", "error"):
            results.append(message)
    assert [r["type"] for r in results] == ["translation_result"] * UTTERANCES, results
    assert [r["utterance_index"] for r in results] == list(range(UTTERANCES))
    assert [r["text_asr"] for r in results] == [f"t{i}" for i in range(UTTERANCES)]
    deadline = asyncio.get_running_loop().time() + 10
    while await slots_held(stack):
        assert asyncio.get_running_loop().time() < deadline, "slots still held"
        await asyncio.sleep(0.1)
    await node.close()
    await client.close()
