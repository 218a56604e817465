"""Races around node ids, checked afterwards key by key in Redis (server and cluster)."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from websockets.exceptions import ConnectionClosed

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.registry.app import build_app as build_registry
from services.registry.settings import RegistrySettings
from tests.peers import Peer, heartbeat_message, register_message
from tests.services.lifecycle_helpers import eventually, node_state, wait_status
from tests.suite import LOCAL, InProcessSuite, grpc_address

ZH_EN = [["zh", "en"]]


async def connect_node(url: str, node_id: str | None = None) -> tuple[Peer, str]:
    peer = await Peer.open(url + "/ws/node")
    await peer.send(register_message(node_id=node_id))
    ack = await peer.expect("node_register_ack")
    return peer, ack["node_id"]


async def indexed_nodes(suite: InProcessSuite) -> list[str]:
    async with grpc.aio.insecure_channel(grpc_address(suite.pool)) as channel:
        reply = await pool_grpc.PoolServiceStub(channel).FindCandidates(
            pool_pb.FindCandidatesRequest(pair=node_pb2.LanguagePair(src="zh", tgt="en"), limit=64)
        )
    return sorted(c.node_id for c in reply.candidates)


async def test_the_same_id_from_two_connections_at_once_leaves_exactly_one_holder(
    suite: InProcessSuite,
) -> None:
    node_id = "node-twin"
    first = await Peer.open(suite.ws_url(0) + "/ws/node")
    second = await Peer.open(suite.ws_url(1) + "/ws/node")
    await asyncio.gather(
        first.send(register_message(node_id=node_id)),
        second.send(register_message(node_id=node_id)),
    )
    # The loser may be closed before it even reads its ack: both outcomes are fine.
    await asyncio.gather(
        first.expect("node_register_ack"),
        second.expect("node_register_ack"),
        return_exceptions=True,
    )
    state = await node_state(suite, node_id)
    assert state.epoch == 2
    winner_gateway = state.owner.split()[0] if state.owner else ""
    winner, loser = (first, second) if winner_gateway == "gw-0" else (second, first)
    assert state.owner == f"{winner_gateway} 2"
    # The loser's socket ends: closed by the takeover (4001), or at its first, stale,
    # heartbeat (4002) when its ack raced the takeover.
    with contextlib.suppress(ConnectionClosed):
        await loser.send(heartbeat_message(node_id))
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            await loser.recv(wait_s=3)
    assert loser.ws.close_code in (4001, 4002)
    await winner.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")
    await asyncio.sleep(0.3)  # the loser's late offline (fenced) has had its chance
    state = await node_state(suite, node_id)
    assert (state.status, state.epoch, state.owner) == ("ready", 2, f"{winner_gateway} 2")
    assert state.indexed_entry == {"pairs": ZH_EN, "ready": ["asr", "nmt", "semantic", "tts"]}
    assert state.applied_index_seq == state.index_seq
    await winner.close()


async def test_a_flapping_node_ends_in_the_state_of_its_last_move(suite: InProcessSuite) -> None:
    node_id = "node-flap"
    for round_ in range(12):
        peer, _ = await connect_node(suite.ws_url(round_ % 2), node_id)
        await peer.send(heartbeat_message(node_id))
        if round_ % 3 == 0:
            await asyncio.sleep(0.05)
        await peer.close()
    # Ends disconnected: offline and out of the index, whatever order the updates took.
    await wait_status(suite, node_id, "offline")

    async def settled() -> bool:
        state = await node_state(suite, node_id)
        return state.applied_index_seq == state.index_seq

    await eventually(settled)
    state = await node_state(suite, node_id)
    assert (state.epoch, state.owner, state.indexed_entry, state.last_seen) == (
        12,
        None,
        None,
        None,
    )
    assert await indexed_nodes(suite) == []
    # One more connect: back, and indexed once.
    peer, _ = await connect_node(suite.ws_url(0), node_id)
    await peer.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")

    async def back() -> bool:
        return await indexed_nodes(suite) == [node_id]

    await eventually(back)
    await peer.close()


async def test_many_nodes_registering_at_once(suite: InProcessSuite) -> None:
    count = 60
    results = await asyncio.gather(
        *(connect_node(suite.ws_url(i % 2), f"node-many-{i:03d}") for i in range(count))
    )
    ids = sorted(node_id for _, node_id in results)
    assert ids == [f"node-many-{i:03d}" for i in range(count)]

    async def all_indexed() -> bool:
        keys = Keys(suite.redis.key_prefix)
        client = connect(suite.redis)
        try:
            return int(await client.hlen(keys.index_nodes())) == count
        finally:
            await client.aclose()

    await eventually(all_indexed)
    keys = Keys(suite.redis.key_prefix)
    client = connect(suite.redis)
    try:
        assert await client.scard(keys.nodes_all()) == count
        assert await client.zcard(keys.nodes_last_seen()) == count
    finally:
        await client.aclose()
    for node_id in ids:
        state = await node_state(suite, node_id)
        assert (state.status, state.epoch, state.in_all) == ("registering", 1, True)
        assert state.owner in ("gw-0 1", "gw-1 1")
        assert state.applied_index_seq == state.index_seq == 1
    for peer, _ in results:
        await peer.close()


async def test_two_sweepers_take_each_stale_node_offline_exactly_once(
    redis_settings: RedisSettings,
) -> None:
    clock = ManualClock()
    overrides = {"sweep_interval_ms": 10}
    suite = await InProcessSuite(redis_settings, clock=clock, registry_overrides=overrides).start()
    # A second registry replica on the same Redis and pool: two sweepers at once.
    second_registry = build_registry(
        RegistrySettings(
            server=LOCAL, redis=redis_settings, pool_address=grpc_address(suite.pool), **overrides
        ),
        clock=clock,
    )
    await second_registry.start()
    try:
        peers = [await connect_node(suite.ws_url(), f"node-sweep-{i}") for i in range(10)]
        for peer, node_id in peers:
            await peer.send(heartbeat_message(node_id))
        for _, node_id in peers:
            await wait_status(suite, node_id, "ready")
        clock.advance(46_000)
        assert suite.registry is not None
        # Both sweepers make a pass at the new time (their loops may make more).
        await asyncio.gather(suite.registry.steps["sweep"](), second_registry.steps["sweep"]())
        for _, node_id in peers:
            await wait_status(suite, node_id, "offline")
        keys = Keys(redis_settings.key_prefix)
        client = connect(redis_settings)

        async def offline_events() -> list[str]:
            events = await client.xrange(keys.node_events())
            return [e[1][b"node"].decode() for e in events if e[1][b"kind"] == b"offline"]

        async def all_written() -> bool:
            return len(await offline_events()) >= len(peers)

        try:
            await eventually(all_written)  # the feed is written just after each change
            assert sorted(await offline_events()) == sorted(node_id for _, node_id in peers)
            assert await client.zcard(keys.nodes_last_seen()) == 0
        finally:
            await client.aclose()
        for _, node_id in peers:
            state = await node_state(suite, node_id)
            assert (state.status, state.owner, state.indexed_entry) == ("offline", None, None)
        for peer, _ in peers:
            with contextlib.suppress(ConnectionClosed):
                await peer.close()
    finally:
        await second_registry.stop()
        await suite.stop()
