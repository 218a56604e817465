"""The node status machine through the real WebSocket, registry, pool and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.clock import ManualClock
from lingua_common.settings import RedisSettings
from tests.peers import Peer, heartbeat_message, register_message, registered_node
from tests.services.lifecycle_helpers import (
    eventually,
    get_node,
    node_state,
    status_of,
    wait_status,
)
from tests.suite import InProcessSuite, grpc_address


async def test_ready_degraded_recovered_with_reasons_in_the_history(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await node.send(heartbeat_message(node_id, ready=False))
    await wait_status(suite, node_id, "degraded")
    assert (await get_node(suite, node_id)).status_reason.startswith("services not ready")
    await node.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")
    beat = heartbeat_message(node_id)
    beat["resource_usage"]["mem_percent"] = 99.0
    await node.send(beat)
    await wait_status(suite, node_id, "degraded")
    history = list((await get_node(suite, node_id)).history)
    assert [h.split(" ", 2)[1:] for h in history] == [
        ["degraded", "memory 99% over threshold"],
        ["ready", "recovered"],
        ["degraded", "services not ready: asr,nmt"],
        ["ready", "healthy"],
        ["registering", "registered (epoch 1)"],
    ]
    await node.close()


async def test_operator_drain_tells_the_node_and_stops_new_jobs(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        await stub.DrainNode(pb.DrainNodeRequest(node_id=node_id, reason="maintenance"))
        control = await node.expect("node_control")
        assert control == {"type": "node_control", "command": "drain", "reason": "maintenance"}
        # Heartbeats keep it draining; it gets no new jobs (the reservation script checks).
        before = (await get_node(suite, node_id)).last_heartbeat_ms

        async def heard() -> bool:
            return (await get_node(suite, node_id)).last_heartbeat_ms > before

        await node.send(heartbeat_message(node_id))
        await eventually(heard)
        assert await status_of(suite, node_id) == "draining"
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.DrainNode(pb.DrainNodeRequest(node_id="node-nobody"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    await node.close()
    await wait_status(suite, node_id, "offline")


async def test_a_node_may_ask_to_be_drained(suite: InProcessSuite) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await node.send({"type": "node_control", "command": "drain", "reason": "shutting down"})
    await wait_status(suite, node_id, "draining")
    assert (await get_node(suite, node_id)).status_reason == "shutting down"
    await node.send({"type": "node_control", "command": "explode"})
    assert (await node.expect("error", skip=("node_control",)))["code"] == "INVALID_MESSAGE"
    await node.close()


async def test_socket_close_takes_the_node_offline_and_out_of_the_index(
    suite: InProcessSuite,
) -> None:
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    await node.close()
    await wait_status(suite, node_id, "offline")

    async def unindexed() -> bool:
        return (await node_state(suite, node_id)).indexed_entry is None

    await eventually(unindexed)
    state = await node_state(suite, node_id)
    assert (state.owner, state.last_seen, state.running) == (None, None, 0)
    assert state.applied_index_seq == state.index_seq == 2


async def test_offline_is_announced_on_the_node_event_feed(suite: InProcessSuite) -> None:
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        stream = pb_grpc.RegistryServiceStub(channel).WatchNodes(pb.WatchNodesRequest())
        node, node_id = await registered_node(suite.ws_url())
        await node.close()
        kinds: list[int] = []
        async for event in stream:
            if event.node_id == node_id:
                kinds.append(event.kind)
            if event.kind == pb.NODE_EVENT_KIND_OFFLINE:
                assert event.reason == "socket closed"
                break
        stream.cancel()
    assert kinds[0] == pb.NODE_EVENT_KIND_REGISTERED
    assert pb.NODE_EVENT_KIND_STATUS_CHANGED in kinds


async def test_a_live_id_with_another_credential_gets_node_id_conflict(
    suite: InProcessSuite,
) -> None:
    node, node_id = await registered_node(suite.ws_url())
    descriptor_message = register_message(node_id=node_id)
    del descriptor_message
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        stub = pb_grpc.RegistryServiceStub(channel)
        first = await stub.RegisterNode(
            pb.RegisterNodeRequest(
                node_id="node-cred",
                gateway_id="gw-0",
                credential_fingerprint="alice",
                descriptor=await _descriptor(suite, node_id),
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RegisterNode(
                pb.RegisterNodeRequest(
                    node_id="node-cred",
                    gateway_id="gw-1",
                    credential_fingerprint="mallory",
                    descriptor=await _descriptor(suite, node_id),
                )
            )
        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert ("lingua-error-code", "NODE_ID_CONFLICT") in tuple(refused.value.trailing_metadata())
        again = await stub.RegisterNode(
            pb.RegisterNodeRequest(
                node_id="node-cred",
                gateway_id="gw-1",
                credential_fingerprint="alice",
                descriptor=await _descriptor(suite, node_id),
            )
        )
        assert again.epoch == first.epoch + 1
    await node.close()


async def _descriptor(suite: InProcessSuite, node_id: str):  # type: ignore[no-untyped-def]
    return (await get_node(suite, node_id)).descriptor


@pytest.fixture
async def clocked_suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    clock = ManualClock()
    running = await InProcessSuite(
        redis_settings, clock=clock, registry_overrides={"sweep_interval_ms": 20}
    ).start()
    yield running
    await running.stop()


async def test_no_heartbeat_for_three_intervals_means_offline(
    clocked_suite: InProcessSuite,
) -> None:
    suite = clocked_suite
    assert isinstance(suite.clock, ManualClock)
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    suite.clock.advance(2 * 15_000)
    heard_at = suite.clock.now_ms()
    await node.send(heartbeat_message(node_id))

    async def heard() -> bool:
        return (await get_node(suite, node_id)).last_heartbeat_ms == heard_at

    await eventually(heard)  # recorded at t = 30 s, before the clock moves on
    suite.clock.advance(44_000)  # 44 s of silence: still inside 3 x 15 s
    assert suite.registry is not None
    await suite.registry.steps["sweep"]()
    assert await status_of(suite, node_id) == "ready"
    suite.clock.advance(2_000)
    await wait_status(suite, node_id, "offline")
    assert (await get_node(suite, node_id)).status_reason == "heartbeat timeout"
    # Its late heartbeat cannot revive it: the agent is told to register again.
    await node.send(heartbeat_message(node_id))
    assert (await node.expect("error"))["code"] == "NODE_UNAVAILABLE"


async def test_a_node_that_refuses_public_jobs_gets_none(suite: InProcessSuite) -> None:
    node = await Peer.open(suite.ws_url() + "/ws/node")
    message = register_message()
    message["accept_public_jobs"] = False
    await node.send(message)
    node_id = (await node.expect("node_register_ack"))["node_id"]
    await node.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")

    async def indexed_empty() -> bool:
        state = await node_state(suite, node_id)
        return state.indexed_entry == {"pairs": [], "ready": ["asr", "nmt", "semantic", "tts"]}

    await eventually(indexed_empty)
    await node.close()
