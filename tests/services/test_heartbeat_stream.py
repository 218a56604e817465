"""Heartbeats in batches on one stream: the registry's StreamHeartbeats and the
gateway's uplink that feeds it, against a real registry on real Redis."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import grpc
import pytest

from bench import probe_node
from lingua.common.v1 import node_pb2
from lingua.registry.v1 import registry_service_pb2 as pb
from lingua.registry.v1 import registry_service_pb2_grpc as pb_grpc
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.gateway.heartbeat_uplink import NOT_RECORDED, HeartbeatUplink, UplinkSettings
from services.registry.app import build_app as build_registry
from services.registry.servicer import MAX_BEATS_PER_BATCH
from services.registry.settings import RegistrySettings
from tests.suite import LOCAL, grpc_address

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def registry(redis_settings: RedisSettings) -> AsyncIterator[tuple[str, ManualClock]]:
    clock = ManualClock()
    # No pool service is running: the index sync retries in the background, unseen here.
    app = build_registry(
        RegistrySettings(server=LOCAL, redis=redis_settings, pool_address="127.0.0.1:1"),
        clock=clock,
    )
    await app.start()
    yield grpc_address(app), clock
    await app.stop()


@pytest.fixture
async def stub(registry: tuple[str, ManualClock]) -> AsyncIterator[pb_grpc.RegistryServiceStub]:
    async with grpc.aio.insecure_channel(registry[0]) as channel:
        yield pb_grpc.RegistryServiceStub(channel)


async def register(stub: pb_grpc.RegistryServiceStub, node_id: str = "") -> tuple[str, int]:
    reply = await stub.RegisterNode(
        pb.RegisterNodeRequest(
            node_id=node_id, descriptor=probe_node.descriptor(), gateway_id="gw-test"
        )
    )
    return reply.node_id, reply.epoch


def beat(node_id: str, epoch: int) -> pb.HeartbeatRequest:
    return pb.HeartbeatRequest(
        node_id=node_id,
        epoch=epoch,
        resource_usage=probe_node.usage(1),
        capability_by_type=probe_node.capability_by_type(),
    )


async def last_seen(settings: RedisSettings, node_id: str) -> float | None:
    client = connect(settings)
    try:
        return await client.zscore(Keys(settings.key_prefix).nodes_last_seen(), node_id)
    finally:
        await client.aclose()


async def test_a_batch_gets_one_outcome_per_beat_in_order(
    stub: pb_grpc.RegistryServiceStub,
    registry: tuple[str, ManualClock],
    redis_settings: RedisSettings,
) -> None:
    clock = registry[1]
    live, live_epoch = await register(stub)
    taken_over, _ = await register(stub)
    await register(stub, taken_over)  # epoch 2 now holds the id
    gone, gone_epoch = await register(stub)
    await stub.DeregisterNode(pb.DeregisterNodeRequest(node_id=gone, epoch=gone_epoch))
    clock.advance(1_000)

    call = stub.StreamHeartbeats()
    await call.write(
        pb.StreamHeartbeatsRequest(
            batch_id=41,
            beats=[
                beat(live, live_epoch),
                beat(taken_over, 1),
                beat(gone, gone_epoch),
                beat("node-never-registered", 1),
            ],
        )
    )
    reply = await call.read()
    await call.done_writing()

    assert reply.batch_id == 41
    assert [(o.status, o.error_code) for o in reply.outcomes] == [
        # One healthy beat makes a registering node ready (the default policy).
        (node_pb2.NODE_STATUS_READY, ""),
        (node_pb2.NODE_STATUS_UNSPECIFIED, "NODE_ID_CONFLICT"),
        (node_pb2.NODE_STATUS_UNSPECIFIED, "NODE_UNAVAILABLE"),
        # No record at all: Redis lost it (a gateway beats only for nodes it registered),
        # and the gateway writes it back.
        (node_pb2.NODE_STATUS_UNSPECIFIED, "NODE_RECORD_LOST"),
    ]
    assert all(o.error_message for o in reply.outcomes[1:])
    # The sweeper's clock moves; a node taken offline is not put back in its set.
    assert await last_seen(redis_settings, live) == clock.now_ms()
    assert await last_seen(redis_settings, gone) is None
    assert await last_seen(redis_settings, "node-never-registered") is None
    node = (await stub.GetNode(pb.GetNodeRequest(node_id=live))).node
    assert node.status == node_pb2.NODE_STATUS_READY
    assert node.last_heartbeat_ms == clock.now_ms()


async def test_the_stream_answers_batches_in_order_and_stays_open(
    stub: pb_grpc.RegistryServiceStub,
) -> None:
    nodes = [await register(stub) for _ in range(5)]
    call = stub.StreamHeartbeats()
    for batch_id in range(1, 4):
        await call.write(
            pb.StreamHeartbeatsRequest(batch_id=batch_id, beats=[beat(*n) for n in nodes])
        )
    replies = [await call.read() for _ in range(3)]
    await call.done_writing()
    assert [r.batch_id for r in replies] == [1, 2, 3]
    assert all(len(r.outcomes) == 5 and not any(o.error_code for o in r.outcomes) for r in replies)
    assert not isinstance(await call.read(), pb.StreamHeartbeatsResponse)  # the end (EOF)


async def test_an_oversized_batch_ends_the_stream_with_invalid_argument(
    stub: pb_grpc.RegistryServiceStub,
) -> None:
    node = await register(stub)
    call = stub.StreamHeartbeats()
    await call.write(pb.StreamHeartbeatsRequest(batch_id=1, beats=[beat(*node)]))
    assert (await call.read()).outcomes[0].error_code == ""
    await call.write(
        pb.StreamHeartbeatsRequest(batch_id=2, beats=[beat(*node)] * (MAX_BEATS_PER_BATCH + 1))
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await call.read()
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1000" in (refused.value.details() or "")


@pytest.fixture
async def uplink_of(
    stub: pb_grpc.RegistryServiceStub,
) -> AsyncIterator[list[tuple[HeartbeatUplink, asyncio.Task[None]]]]:
    started: list[tuple[HeartbeatUplink, asyncio.Task[None]]] = []
    yield started
    for _, task in started:
        task.cancel()
    await asyncio.gather(*(task for _, task in started), return_exceptions=True)


def start_uplink(
    stub: pb_grpc.RegistryServiceStub,
    started: list[tuple[HeartbeatUplink, asyncio.Task[None]]],
    settings: UplinkSettings,
) -> HeartbeatUplink:
    uplink = HeartbeatUplink(stub, settings)
    started.append((uplink, asyncio.create_task(uplink.run())))
    return uplink


async def test_the_uplink_carries_concurrent_beats_in_few_batches(
    stub: pb_grpc.RegistryServiceStub,
    uplink_of: list[tuple[HeartbeatUplink, asyncio.Task[None]]],
) -> None:
    nodes = [await register(stub) for _ in range(60)]
    uplink = start_uplink(stub, uplink_of, UplinkSettings(max_batch=25))
    stale = beat(nodes[0][0], nodes[0][1] + 7)
    results = await asyncio.gather(
        *(uplink.beat(beat(*n), timeout_s=5) for n in nodes), uplink.beat(stale, timeout_s=5)
    )
    assert [r.error_code for r in results] == [""] * 60 + ["NODE_ID_CONFLICT"]
    # 61 beats, at most 25 a batch: 3 batches when they all queue before the first goes.
    assert 3 <= uplink.batches_answered <= 6
    assert uplink.waiting == 0


async def test_the_uplink_reopens_a_broken_stream_and_goes_on(
    stub: pb_grpc.RegistryServiceStub,
    uplink_of: list[tuple[HeartbeatUplink, asyncio.Task[None]]],
) -> None:
    node = await register(stub)
    # Bigger batches than the registry accepts: it ends the stream on the first one.
    uplink = start_uplink(
        stub, uplink_of, UplinkSettings(max_batch=MAX_BEATS_PER_BATCH + 1, reconnect_min_s=0.01)
    )
    refused = await asyncio.gather(
        *(uplink.beat(beat(*node), timeout_s=5) for _ in range(MAX_BEATS_PER_BATCH + 1))
    )
    assert {r.error_code for r in refused} == {NOT_RECORDED}
    # The same uplink, on a new stream, records the next beats.
    again = await uplink.beat(beat(*node), timeout_s=5)
    assert again.error_code == ""


async def test_an_unreachable_registry_resolves_beats_as_not_recorded_in_bounded_time() -> None:
    with_no_server = grpc.aio.insecure_channel("127.0.0.1:1")
    settings = dataclasses.replace(UplinkSettings(), max_waiting=2, reconnect_max_s=0.05)
    uplink = HeartbeatUplink(pb_grpc.RegistryServiceStub(with_no_server), settings)
    task = asyncio.create_task(uplink.run())
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(
            *(uplink.beat(beat(f"node-{i}", 1), timeout_s=0.3) for i in range(3))
        )
        assert loop.time() - started < 2.0
        assert [r.error_code for r in results] == [NOT_RECORDED] * 3
        # The third found the queue full and was refused at once, not after the timeout.
        assert "too many" in results[2].error_message
        assert "in time" in results[0].error_message or "lost" in results[0].error_message
        assert uplink.waiting <= 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await with_no_server.close(None)
