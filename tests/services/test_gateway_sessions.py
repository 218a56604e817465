"""Session state in Redis (pair, preferred pool, owner, version) and its change feed,
and the graceful drain of a gateway replica with sessions and nodes on it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lingua_common.keys import Keys
from lingua_common.redis_client import connect as redis_connect
from lingua_common.settings import RedisSettings
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import (
    chunk,
    http_status,
    opus,
    ready_node,
    result_for,
    running_suite,
)
from tests.services.lifecycle_helpers import eventually
from tests.suite import InProcessSuite


@pytest.fixture
async def changes(redis_settings: RedisSettings) -> AsyncIterator[asyncio.Queue[str]]:
    """Session change notifications (PUBLISH reaches every node of a cluster)."""
    client = redis_asyncio.Redis.from_url(redis_settings.url)
    pubsub = client.pubsub()
    await pubsub.subscribe(Keys(redis_settings.key_prefix).session_channel())
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def pump() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                await queue.put(message["data"].decode())

    task = asyncio.create_task(pump())
    yield queue
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await pubsub.aclose()
    await client.aclose()


async def session_record(suite: InProcessSuite, session_id: str) -> dict[str, str]:
    client: Any = redis_connect(suite.redis)  # the cluster client where there is one
    key = Keys(suite.redis.key_prefix).session(session_id)
    try:
        raw = await client.hgetall(key)
    finally:
        await client.aclose()
    return {k.decode(): v.decode() for k, v in raw.items()}


async def set_preferred_pool(suite: InProcessSuite, session_id: str, pool: str) -> None:
    client: Any = redis_connect(suite.redis)
    try:
        await client.hset(Keys(suite.redis.key_prefix).session(session_id), "preferred_pool", pool)
    finally:
        await client.aclose()


async def test_session_state_changes_are_stored_and_announced(
    suite: InProcessSuite, changes: asyncio.Queue[str]
) -> None:
    client, session_id = await open_session(suite.ws_url(1), "zh", "en")
    key = Keys(suite.redis.key_prefix).session(session_id)
    assert await asyncio.wait_for(changes.get(), 5) == f"{key} 1"
    record = await session_record(suite, session_id)
    assert (record["src"], record["tgt"], record["owner"], record["state"]) == (
        "zh",
        "en",
        "gw-1",
        "open",
    )
    await set_preferred_pool(suite, session_id, "zh>en#0")
    # The same pair changes nothing (no version 2 for it); another pair is version 2 and
    # resets the preferred pool.
    await client.send(utterance_message(session_id, 0, b"a", "zh", "en"))
    await client.send(utterance_message(session_id, 1, b"b", "en", "zh"))
    assert await asyncio.wait_for(changes.get(), 5) == f"{key} 2"
    record = await session_record(suite, session_id)
    assert (record["src"], record["tgt"], record["version"]) == ("en", "zh", "2")
    assert "preferred_pool" not in record
    await client.close()
    assert await asyncio.wait_for(changes.get(), 5) == f"{key} 3"
    record = await session_record(suite, session_id)
    assert record["state"] == "closed"


async def test_drain_sends_nodes_away_and_answers_sessions_before_closing(
    redis_settings: RedisSettings,
) -> None:
    async with running_suite(redis_settings, gateways=2, drain_timeout_ms=3000) as suite:
        worker, worker_id = await ready_node(suite, 1)  # stays up on gateway 1
        leaving, _ = await ready_node(suite, 0, pairs=[("ja", "ko")])  # on the draining one
        asking, asking_id = await open_session(suite.ws_url(0))
        streaming, streaming_id = await open_session(suite.ws_url(0))
        unlucky, unlucky_id = await open_session(suite.ws_url(0))
        await asking.send(utterance_message(asking_id, 0, b"in flight"))
        await unlucky.send(utterance_message(unlucky_id, 0, b"never answered"))
        await streaming.send(chunk(streaming_id, 0, opus(20, tag=3)))  # buffered, not cut
        in_flight = [await worker.expect("job_assign") for _ in range(2)]
        stopping = asyncio.create_task(suite.gateway_apps[0].stop())
        # Nodes hear 1012 at once and may reconnect elsewhere.
        with pytest.raises(ConnectionClosed) as closed:
            await leaving.recv(5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        port = suite.gateway_apps[0].ports["ws"]
        assert await http_status(port, "/readyz") == 503
        with pytest.raises(InvalidStatus):
            await Peer.open(suite.ws_url(0) + "/ws/session")
        # The buffered audio was cut into a job; new input is refused with a reason.
        cut = await worker.expect("job_assign")
        assert (cut["session_id"], cut["utterance_index"]) == (streaming_id, 0)
        await streaming.send(chunk(streaming_id, 1, opus(5)))
        assert (await streaming.expect("error"))["code"] == "SESSION_CLOSED"
        by_session = {a["session_id"]: a for a in [*in_flight, cut]}
        for session_id in (asking_id, streaming_id):
            await worker.send(result_for(by_session[session_id], worker_id, "drained"))
        for peer in (asking, streaming):
            assert (await peer.expect("translation_result"))["text_asr"] == "drained"
        # What could not be answered in time still gets an answer of its own.
        error = await unlucky.expect("error", wait_s=10)
        assert (error["code"], error["details"]["utterance_index"]) == ("SESSION_CLOSED", 0)
        for peer in (asking, streaming, unlucky):
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(100):
                    await peer.recv(10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await asyncio.wait_for(stopping, 10)
        await worker.close()


async def test_a_burst_of_closing_sessions_is_stored_without_exhausting_redis(
    redis_settings: RedisSettings,
) -> None:
    small_pool = dataclasses.replace(redis_settings, max_connections=16)
    async with running_suite(small_pool) as suite:
        opened = []
        for _ in range(4):
            opened += await asyncio.gather(*(open_session(suite.ws_url()) for _ in range(50)))
        await asyncio.gather(*(peer.close() for peer, _ in opened))  # all at once

        async def all_closed() -> bool:
            records = [await session_record(suite, sid) for _, sid in opened]
            return all(r.get("state") == "closed" for r in records)

        await eventually(all_closed, wait_s=20)
