"""Gateway replicas as separate processes: one dies (SIGKILL) or drains (SIGTERM).

- Killed: its sockets drop; a node that reconnects to another replica gets jobs at once
  (its owner record moves with the registration, no waiting for TTLs); the killed
  replica's clients see their socket closed.
- Drained: nodes get 1012 at once (reconnect elsewhere); sessions still get the answers
  that were in flight, and the audio they had buffered is cut and answered, before
  their socket closes with 1012; the process exits 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from websockets.exceptions import ConnectionClosed

from lingua.common.v1 import node_pb2
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.keys import Keys
from lingua_common.redis_client import connect as redis_connect
from lingua_common.settings import RedisSettings
from tests.peers import Peer, heartbeat_message, open_session, register_message, utterance_message
from tests.services.gateway_helpers import chunk, opus, result_for
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# The registry's defaults: a node's owner record lives 30 s, heartbeats come every 15 s.
# "At once" must be far below both.
AT_ONCE_S = 5.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    running = Stack(StackConfig(gateway_ws_ports=(0, 0), run_dir=tmp_path)).start()
    yield running
    running.stop()


async def closed_code(peer: Peer, wait_s: float = 10.0) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(1000):
            await peer.recv(wait_s)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def node_on(url: str, node_id: str | None = None, pairs=(("zh", "en"),)) -> tuple[Peer, str]:  # type: ignore[no-untyped-def]
    peer = await Peer.open(url + "/ws/node")
    await peer.send(register_message(pairs, node_id=node_id))
    registered = (await peer.expect("node_register_ack", wait_s=10))["node_id"]
    await peer.send(heartbeat_message(registered))
    return peer, registered


async def wait_ready(stack: Stack, node_id: str) -> None:
    assert stack.registry is not None
    async with grpc.aio.insecure_channel(stack.registry.grpc_address) as channel:
        stub = registry_grpc.RegistryServiceStub(channel)
        for _ in range(500):
            reply = await stub.GetNode(registry_pb.GetNodeRequest(node_id=node_id))
            if reply.node.status == node_pb2.NODE_STATUS_READY:
                return
            await asyncio.sleep(0.01)
    raise AssertionError(f"{node_id} never became ready")


async def owner_of(stack: Stack, node_id: str) -> str:
    client = redis_connect(RedisSettings(url=stack.redis_url))
    try:
        raw = await client.get(Keys().node_owner(node_id))
    finally:
        await client.aclose()
    return raw.decode().split()[0] if raw else ""


async def test_a_killed_gateways_nodes_move_at_once_and_its_sessions_close(stack: Stack) -> None:
    url_a, url_b = stack.gateway_urls
    node, node_id = await node_on(url_a)
    await wait_ready(stack, node_id)
    victim, _ = await open_session(url_a)
    client, session_id = await open_session(url_b)
    await client.send(utterance_message(session_id, 0, b"before"))
    assign = await node.expect("job_assign", wait_s=10)
    await node.send(result_for(assign, node_id, "before"))
    assert (await client.expect("translation_result", wait_s=10))["text_asr"] == "before"

    stack.gateways[0].kill()
    # Both kinds of socket on the dead replica drop (no close frame: the process died).
    await closed_code(victim)
    await closed_code(node)

    started = time.monotonic()
    node, again = await node_on(url_b, node_id=node_id)
    assert again == node_id
    assert await owner_of(stack, node_id) == "gateway-1"  # moved with the registration
    await wait_ready(stack, node_id)
    await client.send(utterance_message(session_id, 1, b"after"))
    assign = await node.expect("job_assign", wait_s=AT_ONCE_S)
    elapsed = time.monotonic() - started
    assert elapsed < AT_ONCE_S, elapsed
    await node.send(result_for(assign, node_id, "after"))
    result = await client.expect("translation_result", wait_s=10)
    assert (result["utterance_index"], result["text_asr"]) == (1, "after")
    await node.close()
    await client.close()


async def test_sigterm_drains_nodes_with_1012_and_answers_sessions_first(stack: Stack) -> None:
    url_a, url_b = stack.gateway_urls
    worker, worker_id = await node_on(url_b)
    leaving, leaving_id = await node_on(url_a, pairs=(("ja", "ko"),))
    await wait_ready(stack, worker_id)
    asking, asking_id = await open_session(url_a)
    streaming, streaming_id = await open_session(url_a)
    await asking.send(utterance_message(asking_id, 0, b"in flight"))
    first = await worker.expect("job_assign", wait_s=10)
    await streaming.send(chunk(streaming_id, 0, opus(20, tag=5)))
    await streaming.send({"type": "client_heartbeat", "session_id": streaming_id, "timestamp": 1})
    await streaming.expect("server_heartbeat")  # the chunk is buffered at the gateway

    stack.gateways[0].terminate()
    assert await closed_code(leaving) == 1012
    cut = await worker.expect("job_assign", wait_s=10)  # the buffered audio, cut at drain
    assert (cut["session_id"], cut["utterance_index"]) == (streaming_id, 0)
    await worker.send(result_for(first, worker_id, "first"))
    await worker.send(result_for(cut, worker_id, "cut"))
    assert (await asking.expect("translation_result", wait_s=10))["text_asr"] == "first"
    assert (await streaming.expect("translation_result", wait_s=10))["text_asr"] == "cut"
    assert await closed_code(asking) == 1012
    assert await closed_code(streaming) == 1012
    assert stack.gateways[0].wait_stopped(20) == 0
    # The node that was sent away registers on the other replica with its id.
    back, back_id = await node_on(url_b, node_id=leaving_id, pairs=(("ja", "ko"),))
    assert back_id == leaving_id
    await back.close()
    await worker.close()
