"""A client that stops reading must not make the gateway process grow: its send queue
is bounded (in messages and bytes), and overflowing it drops the client with 1008."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.readiness import indexed
from tests.peers import Peer, heartbeat_message, register_message, utterance_message
from tools.launcher.stack import Stack, StackConfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PARTIAL_TEXT_BYTES = 60_000  # a partial's text is at most 64 KiB (the table of limits)
PARTIALS = 2_500  # 150 MB pushed at a client that reads nothing
BUDGET = str(2 * 1024 * 1024)  # its send queue, and the node's work in flight
MAX_GROWTH_MB = 50  # the budgets, their copies on the way (JSON, protobuf, gRPC), slack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = {
        "LINGUA_SEND_QUEUE_BYTES": BUDGET,
        "LINGUA_NODE_INFLIGHT_BYTES": BUDGET,
        # The flood must reach the gateway at full speed (not paced to the node's byte
        # budget): what is measured is the slow client's side.
        "LINGUA_NODE_BYTES_PER_S": "0",
        "LINGUA_NODE_MSGS_PER_S": "0",
    }
    running = Stack(StackConfig(gateway_ws_ports=(0,), run_dir=tmp_path, env=env)).start()
    yield running
    running.stop()


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for {pid}")


async def test_a_client_that_stops_reading_is_dropped_and_memory_stays_bounded(
    stack: Stack,
) -> None:
    url = stack.gateway_urls[0]
    gateway = stack.gateways[0].process
    assert gateway is not None
    node = await Peer.open(url + "/ws/node")
    await node.send(register_message())
    node_id = (await node.expect("node_register_ack", wait_s=10))["node_id"]
    await node.send(heartbeat_message(node_id))
    await indexed(stack, node_id, "zh", "en")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.gateways[0].ports["ws"]))
    slow = Peer(await connect(url + "/ws/session", sock=sock, max_queue=1, max_size=None))
    await slow.send(
        {
            "type": "session_init",
            "client_version": "t",
            "platform": "web",
            "src_lang": "zh",
            "tgt_lang": "en",
        }
    )
    session_id = (await slow.expect("session_init_ack", wait_s=10))["session_id"]
    await slow.send(utterance_message(session_id, 0, b"x"))
    assign = await node.expect("job_assign", wait_s=10)
    before = rss_mb(gateway.pid)
    partial = {
        "type": "asr_partial",
        "job_id": assign["job_id"],
        "node_id": node_id,
        "session_id": session_id,
        "utterance_index": 0,
        "text": "z" * PARTIAL_TEXT_BYTES,
        "is_final": False,
        "trace_id": assign["trace_id"],
    }
    for _ in range(PARTIALS):
        await node.send(partial)
    # The node link still works (the gateway is not stuck), and the client was dropped.
    await node.send({"type": "ping_after_the_flood"})
    assert (await node.expect("error", wait_s=30))["code"] == "INVALID_MESSAGE"
    with pytest.raises(ConnectionClosed):
        for _ in range(10_000):
            await slow.recv(30)
    growth = rss_mb(gateway.pid, "VmHWM") - before
    print(f"gateway growth {growth:.1f} MB")
    assert growth < MAX_GROWTH_MB, f"gateway grew {growth:.0f} MB for a client reading nothing"
    await node.close()
