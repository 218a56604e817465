"""Node registration through the real WebSocket, registry and pool (both Redis backends)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import grpc
import pytest
from websockets.exceptions import ConnectionClosed

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from tests.peers import Peer, heartbeat_message, register_message
from tests.suite import InProcessSuite, grpc_address


async def node_status(suite: InProcessSuite, node_id: str) -> int:
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        reply = await pb_grpc.RegistryServiceStub(channel).GetNode(
            pb.GetNodeRequest(node_id=node_id)
        )
        return int(reply.node.status)


async def candidates(suite: InProcessSuite, src: str, tgt: str) -> list[str]:
    async with grpc.aio.insecure_channel(grpc_address(suite.pool)) as channel:
        reply = await pool_grpc.PoolServiceStub(channel).FindCandidates(
            pool_pb.FindCandidatesRequest(pair=node_pb2.LanguagePair(src=src, tgt=tgt))
        )
        return [c.node_id for c in reply.candidates]


async def eventually(check: Callable[[], Awaitable[bool]], wait_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_register_ack_then_ready_after_heartbeat_and_indexed_by_directed_pair(
    suite: InProcessSuite,
) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message([("zh", "en")]))
    ack = await node.expect("node_register_ack")
    assert ack["node_id"].startswith("node-")
    assert ack["status"] == "registering"
    assert await node_status(suite, ack["node_id"]) == node_pb2.NODE_STATUS_REGISTERING

    async def indexed() -> bool:
        return await candidates(suite, "zh", "en") == [ack["node_id"]]

    await eventually(indexed)  # indexing follows the ack, off the request path
    assert await candidates(suite, "en", "zh") == []  # directed: zh->en only
    await node.send(heartbeat_message(ack["node_id"]))

    async def is_ready() -> bool:
        return await node_status(suite, ack["node_id"]) == node_pb2.NODE_STATUS_READY

    await eventually(is_ready)
    await node.close()


async def refused_then_closed(node: Peer, code: str) -> None:
    """PROTOCOL.md: the refusal's error frame, then close 1008 with the code as reason."""
    error = await node.expect("error")
    assert error["code"] == code
    await node.ws.wait_closed()
    assert (node.ws.close_code, node.ws.close_reason) == (1008, code)


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().startswith("node registration refused")
    ]


async def test_wrong_schema_version_is_refused_and_the_connection_closed_for_its_retry(
    suite: InProcessSuite, caplog: pytest.LogCaptureFixture
) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message(schema="1.0"))
    await refused_then_closed(node, "INVALID_CAPABILITY_SCHEMA")
    [line] = refusal_lines(caplog)
    assert (line.node_id, line.address, line.code) == (  # type: ignore[attr-defined]
        "(new)",
        "127.0.0.1",
        "INVALID_CAPABILITY_SCHEMA",
    )
    assert "'1.0'" in line.reason  # type: ignore[attr-defined]
    # The agent's own reconnect: a fixed register on a new socket is accepted.
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message(schema=None))
    await refused_then_closed(node, "INVALID_CAPABILITY_SCHEMA")
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message())
    assert (await node.expect("node_register_ack"))["node_id"]
    assert len(refusal_lines(caplog)) == 2
    await node.close()


async def test_a_node_without_gpu_is_refused_closed_and_logged_once(
    suite: InProcessSuite, caplog: pytest.LogCaptureFixture
) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message(gpus=0, node_id="node-cpu-only"))
    await refused_then_closed(node, "NO_GPU_AVAILABLE")
    [line] = refusal_lines(caplog)
    assert "node node-cpu-only at 127.0.0.1: NO_GPU_AVAILABLE" in line.getMessage()


async def test_a_heartbeat_before_register_is_ignored_quietly_and_counted(
    suite: InProcessSuite,
) -> None:
    before = heartbeats_before_register(suite)
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(heartbeat_message("node-x"))  # a reconnecting agent's timer fired
    await node.send(register_message(node_id="node-x"))
    # No error came first: the ack is the first frame on the socket.
    ack = await node.recv()
    assert (ack["type"], ack["node_id"]) == ("node_register_ack", "node-x")
    assert heartbeats_before_register(suite) == before + 1
    await node.close()


async def test_other_messages_before_register_are_refused_without_closing(
    suite: InProcessSuite,
) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send({"type": "job_ack", "job_id": "j", "attempt_id": 1, "node_id": "n"})
    error = await node.expect("error")
    assert error["code"] == "INVALID_MESSAGE"
    assert "register first" in error["message"]
    await node.send(register_message())
    await node.expect("node_register_ack")
    await node.close()


def heartbeats_before_register(suite: InProcessSuite) -> float:
    registry = suite.gateway_apps[0].metrics.registry
    value = registry.get_sample_value("lingua_node_heartbeats_before_register_total")
    return value or 0.0


async def test_reconnect_with_same_id_takes_over_and_the_old_socket_cannot_undo_it(
    suite: InProcessSuite,
) -> None:
    first = await Peer.open(suite.ws_url(0) + "/ws/node")
    await first.send(register_message())
    node_id = (await first.expect("node_register_ack"))["node_id"]
    await first.send(heartbeat_message(node_id))
    # The same node id comes back through the other gateway replica.
    second = await Peer.open(suite.ws_url(1) + "/ws/node")
    await second.send(register_message(node_id=node_id))
    assert (await second.expect("node_register_ack"))["node_id"] == node_id
    await second.send(heartbeat_message(node_id))

    async def is_ready() -> bool:
        return await node_status(suite, node_id) == node_pb2.NODE_STATUS_READY

    await eventually(is_ready)
    # A late heartbeat and then the close of the superseded socket change nothing. (The
    # gateway may already have closed that socket, when its first beat came in stale.)
    with contextlib.suppress(ConnectionClosed):
        await first.send(heartbeat_message(node_id))
    await first.close()
    await asyncio.sleep(0.2)
    assert await node_status(suite, node_id) == node_pb2.NODE_STATUS_READY
    assert await candidates(suite, "zh", "en") == [node_id]
    await second.close()

    async def is_offline() -> bool:
        return await node_status(suite, node_id) == node_pb2.NODE_STATUS_OFFLINE

    await eventually(is_offline)

    async def unindexed() -> bool:
        return await candidates(suite, "zh", "en") == []

    await eventually(unindexed)


async def test_heartbeats_with_unchanged_capabilities_do_not_touch_the_index(
    suite: InProcessSuite,
) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message())
    node_id = (await node.expect("node_register_ack"))["node_id"]

    async def indexed() -> bool:
        return await candidates(suite, "zh", "en") == [node_id]

    await eventually(indexed)  # indexing follows the ack, off the request path
    async with grpc.aio.insecure_channel(grpc_address(suite.pool)) as channel:
        stub = pool_grpc.PoolServiceStub(channel)
        before = (await stub.ListPools(pool_pb.ListPoolsRequest())).index_version
        for _ in range(20):
            await node.send(heartbeat_message(node_id))
        await asyncio.sleep(0.3)
        assert (await stub.ListPools(pool_pb.ListPoolsRequest())).index_version == before
        # A real capability change (ASR no longer ready) is indexed at once.
        await node.send(heartbeat_message(node_id, ready=False))

        async def bumped() -> bool:
            reply = await stub.ListPools(pool_pb.ListPoolsRequest())
            return reply.index_version > before

        await eventually(bumped)
    await node.close()


async def test_a_node_that_can_serve_nothing_is_registered_told_and_shown_why(
    suite: InProcessSuite, caplog: pytest.LogCaptureFixture
) -> None:
    """ASR and semantic ready, no NMT or TTS: accepted, told so, one WARNING line, and
    GetNode / ListNodes say why; a heartbeat reporting them ready clears it."""
    half = [{"type": "asr", "ready": True}, {"type": "semantic", "ready": True}]
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send({**register_message(node_id="node-half"), "capability_by_type": half})
    ack = await node.expect("node_register_ack")
    assert ack["message"] == "registered; not serving: missing nmt, tts"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    [line] = [r for r in warnings if "not serving" in r.getMessage()]
    assert line.getMessage() == "node node-half registered but not serving: missing nmt, tts"
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        got = await stub.GetNode(pb.GetNodeRequest(node_id="node-half"))
        assert got.node.not_serving == "missing nmt, tts"
        listed = await stub.ListNodes(pb.ListNodesRequest())
        assert {n.node_id: n.not_serving for n in listed.nodes} == {"node-half": "missing nmt, tts"}
        await node.send(heartbeat_message("node-half"))  # every service ready now

        async def serving() -> bool:
            reply = await stub.GetNode(pb.GetNodeRequest(node_id="node-half"))
            return reply.node.not_serving == ""

        await eventually(serving)
    await node.close()


async def test_a_node_that_serves_gets_a_plain_ack(suite: InProcessSuite) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    await node.send(register_message())
    assert (await node.expect("node_register_ack"))["message"] == "registered"
    await node.close()
