"""Deadlines, failover and waiting for capacity, on a manual clock (server and cluster)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import pytest

from lingua.common.v1 import job_pb2
from lingua_common.clock import ManualClock
from lingua_common.ids import job_id_for
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, connect
from lingua_common.settings import RedisSettings
from services.dispatcher.model import JobState
from services.dispatcher.pending import PendingQueues
from services.dispatcher.store import RedisJobStore
from tests.peers import Message, Peer, open_session, registered_node, utterance_message
from tests.services.lifecycle_helpers import dispatcher_places_on, eventually, wait_status
from tests.suite import InProcessSuite

JOB_TIMEOUT_MS = 15_000
# A node whose attempt timed out is told to drop it before any new assignment.
SKIP = ("ui_event", "job_cancel")


@pytest.fixture
async def clocked(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    suite = await InProcessSuite(
        redis_settings,
        clock=ManualClock(),
        # Nodes stay alive however far the clock moves; only jobs time out here.
        registry_overrides={"heartbeat_interval_ms": 3_600_000},
    ).start()
    yield suite
    await suite.stop()


def result_for(assign: dict[str, object], node_id: str, text: str) -> dict[str, object]:
    return {
        "type": "job_result",
        "job_id": assign["job_id"],
        "attempt_id": assign["attempt_id"],
        "node_id": node_id,
        "session_id": assign["session_id"],
        "utterance_index": assign["utterance_index"],
        "success": True,
        "trace_id": assign["trace_id"],
        "text_asr": text,
        "text_translated": text,
    }


async def running(suite: InProcessSuite, node_id: str) -> int:
    client = connect(suite.redis)
    try:
        return int(await client.hlen(Keys(suite.redis.key_prefix).node_inflight(node_id)))
    finally:
        await client.aclose()


async def ready_nodes(suite: InProcessSuite, count: int) -> list[tuple[Peer, str]]:
    nodes = [await registered_node(suite.ws_url()) for _ in range(count)]
    for _, node_id in nodes:
        await wait_status(suite, node_id, "ready")
    await dispatcher_places_on(suite, count)
    return nodes


async def settle(suite: InProcessSuite) -> None:
    """Until the dispatcher finished what the last message started, before the manual
    clock moves: every placed attempt confirmed (which arms its deadline from "now"),
    every waiting job in its pair's line."""
    client = connect(suite.redis)
    keys = Keys(suite.redis.key_prefix)

    async def quiet() -> bool:
        async for key in client.scan_iter(match=keys.job("*"), count=1000):
            state, attempt, confirmed, src, tgt = await client.hmget(
                key, "state", "attempt", "confirmed", "src", "tgt"
            )
            job_id = key.decode().split("{job:")[1].split("}")[0]
            if state in (b"dispatched", b"accepted") and confirmed != attempt:
                return False
            pending = keys.pending(src.decode(), tgt.decode()) if src and tgt else ""
            if state == b"pending" and await client.zscore(pending, job_id) is None:
                return False
        return True

    try:
        await eventually(quiet)
    finally:
        await client.aclose()


def clock_of(suite: InProcessSuite) -> ManualClock:
    assert isinstance(suite.clock, ManualClock)
    return suite.clock


async def first_assign(nodes: list[tuple[Peer, str]]) -> tuple[Peer, str, dict[str, object]]:
    """The node that got the job_assign, whichever it was."""
    waits = {
        asyncio.create_task(peer.expect("job_assign", wait_s=5, skip=SKIP)): (peer, nid)
        for peer, nid in nodes
    }
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    # Let the cancelled reads finish before anyone reads those sockets again.
    await asyncio.gather(*pending, return_exceptions=True)
    task = done.pop()
    peer, node_id = waits[task]
    return peer, node_id, task.result()


async def test_a_silent_node_times_out_and_the_job_moves_to_another(
    clocked: InProcessSuite,
) -> None:
    suite, clock = clocked, clock_of(clocked)
    nodes = await ready_nodes(suite, 2)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"slow"))
    slow, slow_id, first = await first_assign(nodes)
    other, other_id = next((p, n) for p, n in nodes if n != slow_id)
    await settle(suite)
    clock.advance(JOB_TIMEOUT_MS + 1)
    second = await other.expect("job_assign", skip=SKIP)
    assert (second["job_id"], second["attempt_id"]) == (first["job_id"], 2)
    assert (await slow.expect("job_cancel"))["job_id"] == first["job_id"]
    assert await running(suite, slow_id) == 0
    # The abandoned attempt's late answer is refused; the new one reaches the client.
    await slow.send(result_for(first, slow_id, "too late"))
    await other.send(result_for(second, other_id, "on time"))
    answer = await client.expect("translation_result")
    assert (answer["utterance_index"], answer["text_asr"]) == (0, "on time")
    await eventually(lambda: _zero(suite, [slow_id, other_id]))


async def _in_state(suite: InProcessSuite, job_id: str, state: str) -> bool:
    client = connect(suite.redis)
    try:
        found = await client.hget(Keys(suite.redis.key_prefix).job(job_id), "state")
    finally:
        await client.aclose()
    return found == state.encode()


async def _zero(suite: InProcessSuite, node_ids: list[str]) -> bool:
    return all([await running(suite, n) == 0 for n in node_ids])


async def test_out_of_attempts_the_client_gets_job_timeout(clocked: InProcessSuite) -> None:
    suite, clock = clocked, clock_of(clocked)
    nodes = await ready_nodes(suite, 1)
    peer, node_id = nodes[0]
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"nobody answers"))
    await peer.expect("job_assign")
    await settle(suite)
    clock.advance(JOB_TIMEOUT_MS + 1)
    # Its only node is excluded now (that connection of it): nobody else serves the
    # pair, so the retry ends at once with the reason of the last attempt.
    error = await client.expect("error", wait_s=10)
    assert error["code"] == "JOB_TIMEOUT"
    assert error["details"]["utterance_index"] == 0
    await eventually(lambda: _zero(suite, [node_id]))


async def test_three_attempts_then_job_timeout(clocked: InProcessSuite) -> None:
    suite, clock = clocked, clock_of(clocked)
    nodes = await ready_nodes(suite, 3)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"everyone is slow"))
    attempts = []
    for _ in range(3):
        _, _, assign = await first_assign(nodes)
        attempts.append(assign["attempt_id"])
        await settle(suite)
        clock.advance(JOB_TIMEOUT_MS + 1)
    assert attempts == [1, 2, 3]
    error = await client.expect("error", wait_s=10)
    assert (error["code"], error["details"]["utterance_index"]) == ("JOB_TIMEOUT", 0)
    await eventually(lambda: _zero(suite, [n for _, n in nodes]))


async def test_a_lost_node_fails_over_at_once(clocked: InProcessSuite) -> None:
    suite = clocked
    nodes = await ready_nodes(suite, 2)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"node dies"))
    dead, dead_id, first = await first_assign(nodes)
    other, other_id = next((p, n) for p, n in nodes if n != dead_id)
    await dead.close()
    # No clock movement: the offline event alone moves the job.
    second = await other.expect("job_assign", wait_s=10)
    assert (second["job_id"], second["attempt_id"]) == (first["job_id"], 2)
    await other.send(result_for(second, other_id, "survived"))
    assert (await client.expect("translation_result"))["text_asr"] == "survived"
    await eventually(lambda: _zero(suite, [dead_id, other_id]))


async def test_a_full_fleet_queues_the_job_and_dispatches_it_when_a_slot_frees(
    clocked: InProcessSuite,
) -> None:
    suite = clocked
    ((peer, node_id),) = await ready_nodes(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    for index in range(5):  # max 4 jobs per node: one of them waits
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = [await peer.expect("job_assign") for _ in range(4)]
    with pytest.raises(TimeoutError):
        await peer.expect("job_assign", wait_s=0.5)
    await peer.send(result_for(assigns[0], node_id, "first"))
    waited = await peer.expect("job_assign", wait_s=5)
    assert {a["utterance_index"] for a in [*assigns, waited]} == {0, 1, 2, 3, 4}
    for assign in [*assigns[1:], waited]:
        await peer.send(result_for(assign, node_id, "later"))
    seen = [(await client.expect("translation_result"))["utterance_index"] for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]


KEPT = job_pb2.JobResult(success=True, text_asr="kept", text_translated="kept")


@dataclass(frozen=True)
class OtherReplica:
    """What another dispatcher replica reaches in Redis (the test then 'kills' it)."""

    redis: Any
    keys: Keys
    lua: LuaScripts
    store: RedisJobStore
    queues: PendingQueues

    async def finish(
        self,
        job_id: str,
        state: JobState,
        now_ms: int,
        *,
        node_id: str = "",
        attempt: int = 0,
        result: bytes = b"",
        error_code: str = "",
        error_message: str = "",
    ) -> bool:
        """job_finish alone: the transition, and the replica dies before any follow-up."""
        reply = await self.lua.run(
            "job_finish",
            [self.keys.job(job_id), self.keys.job_events(job_id)],
            [now_ms, state.value, node_id, attempt, result, error_code, error_message, 60_000, ""],
        )
        return int(reply[0]) == 1


@contextlib.asynccontextmanager
async def other_replica(suite: InProcessSuite) -> AsyncIterator[OtherReplica]:
    redis = connect(suite.redis)
    try:
        keys, lua = Keys(suite.redis.key_prefix), LuaScripts(redis)
        store = RedisJobStore(redis, lua, keys, live_ttl_ms=60_000, retention_ms=60_000)
        yield OtherReplica(redis, keys, lua, store, PendingQueues(redis, lua, keys))
    finally:
        await redis.aclose()


async def finish_kept(replica: OtherReplica, assign: Message, node_id: str, now_ms: int) -> bool:
    """The replica records the node's result (KEPT) for this assignment."""
    return await replica.finish(
        str(assign["job_id"]),
        JobState.COMPLETED,
        now_ms,
        node_id=node_id,
        attempt=int(str(assign["attempt_id"])),
        result=KEPT.SerializeToString(),
    )


async def test_a_waiting_job_held_by_a_replica_that_died_is_placed_once_its_lease_ends(
    clocked: InProcessSuite,
) -> None:
    suite, clock = clocked, clock_of(clocked)
    ((peer, node_id),) = await ready_nodes(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    for index in range(5):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = [await peer.expect("job_assign") for _ in range(4)]
    await settle(suite)
    # Another dispatcher replica takes the waiting job off its line and is killed.
    async with other_replica(suite) as replica:
        orphan = await replica.queues.take("zh", "en", now_ms=clock.now_ms(), lease_ms=3_000)
    assert orphan is not None
    await peer.send(result_for(assigns[0], node_id, "first"))  # room, but the line is empty
    with pytest.raises(TimeoutError):
        await peer.expect("job_assign", wait_s=1.0)
    clock.advance(3_000)  # the lease ends; the job's 10 s wait is far from over
    waited = await peer.expect("job_assign", wait_s=5)
    assert waited["job_id"] == orphan.job_id
    for assign in [*assigns[1:], waited]:
        await peer.send(result_for(assign, node_id, "later"))
    seen = [(await client.expect("translation_result"))["utterance_index"] for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]


async def test_a_result_repeated_after_the_replica_that_took_it_died_reaches_the_client(
    clocked: InProcessSuite,
) -> None:
    suite = clocked
    ((peer, node_id),) = await ready_nodes(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"u0"))
    assign = await peer.expect("job_assign")
    # A dispatcher replica records the node's result and is killed before it tells the
    # client, frees the slot or disarms the deadline; the gateway's call is retried.
    async with other_replica(suite) as replica:
        assert await finish_kept(replica, assign, node_id, suite.clock.now_ms())
    await peer.send(result_for(assign, node_id, "repeated"))
    answer = await client.expect("translation_result")
    assert (answer["utterance_index"], answer["text_asr"]) == (0, "kept")  # the first result
    await eventually(lambda: _zero(suite, [node_id]))
    with pytest.raises(TimeoutError):
        await client.expect("translation_result", wait_s=0.5)


async def test_what_a_replica_finished_but_never_told_is_told_when_its_timer_comes_due(
    clocked: InProcessSuite,
) -> None:
    suite, clock = clocked, clock_of(clocked)
    ((peer, node_id),) = await ready_nodes(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    for index in range(5):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = sorted(
        [await peer.expect("job_assign") for _ in range(4)], key=lambda a: a["utterance_index"]
    )
    await settle(suite)
    # A replica finishes two jobs in Redis and is killed before anyone hears of it: one
    # with the node's result, and the waiting one with NO_AVAILABLE_NODE.
    first = assigns[0]
    async with other_replica(suite) as replica:
        assert await finish_kept(replica, first, node_id, clock.now_ms())
        waiting = await replica.redis.zrange(replica.keys.pending("zh", "en"), 0, -1)
        (waiting_id,) = [m.decode() for m in waiting]
        assert await replica.finish(
            waiting_id,
            JobState.FAILED,
            clock.now_ms(),
            error_code="NO_AVAILABLE_NODE",
            error_message="no node had capacity",
        )
    for assign in assigns[1:]:
        await peer.send(result_for(assign, node_id, "later"))
    await eventually(lambda: _is(running(suite, node_id), 1))  # the first job's slot
    await settle(suite)
    clock.advance(15_001)  # both jobs' timers come due
    answers = []
    for _ in range(5):
        message = await client.recv(wait_s=5)
        while message["type"] not in ("translation_result", "error"):
            message = await client.recv(wait_s=5)
        answers.append(message)
    waiting_index = ({0, 1, 2, 3, 4} - {a["utterance_index"] for a in assigns}).pop()
    expected = {a["utterance_index"]: "later" for a in assigns[1:]}
    expected |= {first["utterance_index"]: "kept", waiting_index: "NO_AVAILABLE_NODE"}
    assert [a.get("text_asr") or a.get("code") for a in answers] == [expected[i] for i in range(5)]
    await eventually(lambda: _zero(suite, [node_id]))


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_waiting_is_bounded_then_no_available_node(clocked: InProcessSuite) -> None:
    suite, clock = clocked, clock_of(clocked)
    ((peer, node_id),) = await ready_nodes(suite, 1)
    client, session_id = await open_session(suite.ws_url())
    for index in range(5):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = [await peer.expect("job_assign") for _ in range(4)]
    waiting = ({0, 1, 2, 3, 4} - {a["utterance_index"] for a in assigns}).pop()
    waiting_job = job_id_for(f"{session_id}:{waiting}:en")
    await eventually(lambda: _in_state(suite, waiting_job, "pending"))
    await settle(suite)
    clock.advance(10_001)  # past the pending wait, not yet the running jobs' deadline
    await eventually(lambda: _in_state(suite, waiting_job, "failed"))
    for assign in assigns:
        await peer.send(result_for(assign, node_id, "done"))
    seen: list[tuple[int, str]] = []
    while len(seen) < 5:
        message = await client.recv(wait_s=5)
        if message["type"] == "translation_result":
            seen.append((message["utterance_index"], "result"))
        elif message["type"] == "error":
            seen.append((message["details"]["utterance_index"], message["code"]))
    assert [index for index, _ in seen] == [0, 1, 2, 3, 4]
    assert dict(seen)[waiting] == "NO_AVAILABLE_NODE"
