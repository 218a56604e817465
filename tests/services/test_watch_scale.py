"""WatchJob at scale, on one dispatcher replica in process (real gRPC, real Redis): ten
thousand concurrent watchers hold no Redis connection, while SubmitJob, CancelJob and a
WebSocket session keep working; the one beyond the cap is refused; every watcher hears
its job's end; a watch whose job Redis lost ends NOT_FOUND."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import resource
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.gateway.settings import RateLimit
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import limits, ready_node, result_for
from tests.services.test_dispatcher_api import submit_request
from tests.suite import InProcessSuite, team_address
from tools.launcher.redis_server import RedisServer

JOBS = 1_000
WATCHERS_PER_JOB = 10
WATCHERS = JOBS * WATCHERS_PER_JOB
# Far fewer than the watchers: a watcher must not need a connection of its own.
REDIS_CONNECTIONS = 64
CHANNELS = 10
# Calls at once that may touch Redis (submits, results): a wave the tiny pool can hold.
WAVE = 16
UNLIMITED = RateLimit(per_s=1_000_000, burst=1_000_000)
# The test's node sends one heartbeat; on a loaded machine the test outlasts the
# default 45 s after which a silent node is offline (registry) and closed (gateway).
SILENCE_ALLOWED_MS = 1_800_000


class NodeInbox:
    """Reads everything a node is sent (a node that stopped reading would be closed as
    a slow reader), keeping the job assignments by job id."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.assigns: dict[str, dict[str, Any]] = {}
        self._arrived = asyncio.Condition()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.peer.recv(wait_s=3600)
            if message["type"] == "job_assign":
                async with self._arrived:
                    self.assigns[str(message["job_id"])] = message
                    self._arrived.notify_all()

    async def assign_of(self, job_id: str, wait_s: float = 30.0) -> dict[str, Any]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: job_id in self.assigns), wait_s)
        return self.assigns[job_id]

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.peer.close()


@pytest.fixture
def watch_settings(single_redis_settings: RedisSettings) -> RedisSettings:
    return dataclasses.replace(single_redis_settings, max_connections=REDIS_CONNECTIONS)


@pytest.fixture
async def scale_suite(watch_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    suite = InProcessSuite(
        watch_settings,
        registry_overrides={
            "default_max_jobs": JOBS + 50,
            "heartbeat_interval_ms": SILENCE_ALLOWED_MS,
        },
        # The jobs stay open while ten thousand watches are set up and checked.
        dispatcher_overrides={"max_watchers": WATCHERS, "job_timeout_ms": 600_000},
        gateway_overrides={
            "node_offline_grace_ms": 100,
            "node_idle_timeout_ms": SILENCE_ALLOWED_MS,
            "limits": limits(node_rate=UNLIMITED, session_rate=UNLIMITED),
        },
    )
    await suite.start()
    yield suite
    await suite.stop()


@pytest.fixture
def channels(scale_suite: InProcessSuite) -> Iterator[list[grpc.aio.Channel]]:
    address = team_address(scale_suite.dispatcher)
    opened = [grpc.aio.insecure_channel(address) for _ in range(CHANNELS)]
    yield opened
    # Closed by the test (in its loop); this only checks nothing was left open.


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def submit_all(stub: pb_grpc.DispatcherServiceStub, count: int, tag: str) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, WAVE):
        replies = await asyncio.gather(
            *(
                stub.SubmitJob(submit_request(request_id=f"{tag}/{i}"))
                for i in range(start, min(count, start + WAVE))
            )
        )
        assert all(r.job.state == job_pb2.JOB_STATE_DISPATCHED for r in replies)
        ids.extend(r.job.job_id for r in replies)
    return ids


@pytest.mark.timeout(600)
async def test_ten_thousand_watchers_on_one_replica_while_the_rest_keeps_working(
    scale_suite: InProcessSuite, channels: list[grpc.aio.Channel]
) -> None:
    suite = scale_suite
    peer, node_id = await ready_node(suite)
    node = NodeInbox(peer)
    stubs = [pb_grpc.DispatcherServiceStub(channel) for channel in channels]
    try:
        job_ids = await submit_all(stubs[0], JOBS, "watched")

        started, rss_before = time.monotonic(), rss_mb()
        watches = [
            stubs[i % CHANNELS].WatchJob(pb.WatchJobRequest(job_id=job_ids[i % JOBS]))
            for i in range(WATCHERS)
        ]
        firsts = await asyncio.gather(*(w.read() for w in watches))
        opened_s, rss_after = time.monotonic() - started, rss_mb()
        # Every watcher is in (it was sent the job's history): the hub holds all of them.
        assert {f.kind for f in firsts} == {pb.JOB_EVENT_KIND_DISPATCHED}
        print(
            f"\n{WATCHERS} watchers open in {opened_s:.1f} s; test process peak RSS "
            f"{rss_before:.0f} -> {rss_after:.0f} MB (both ends of every stream)"
        )

        # The one beyond the cap is refused, at once and alone.
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs[0].WatchJob(pb.WatchJobRequest(job_id=job_ids[0])).read()
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

        # The rest of the service is unaffected: submit, get, cancel ...
        extra = await submit_all(stubs[1], 10, "meanwhile")
        got = await stubs[2].GetJob(pb.GetJobRequest(job_id=extra[0]))
        assert got.job.state == job_pb2.JOB_STATE_DISPATCHED
        cancelled = await stubs[3].CancelJob(pb.CancelJobRequest(job_id=extra[1], reason="t"))
        assert cancelled.job.state == job_pb2.JOB_STATE_CANCELLED
        # ... and a WebSocket session's utterance gets its translation.
        session, session_id = await open_session(suite.ws_url())
        await session.send(utterance_message(session_id, 0, b"\x01" * 64))
        ws_job = await _job_of_session(node, session_id)
        await node.peer.send(result_for(ws_job, node_id, "hello"))
        answer = await session.expect("translation_result", wait_s=30)
        assert answer["text_translated"] == "HELLO"
        await session.close()

        # Every watcher hears its job finish, then its stream ends. Submits and results go
        # in waves the tiny pool can serve: a burst of hundreds would fail some of them
        # RESOURCE_EXHAUSTED, as it should; the watchers are the subject here.
        ends = [asyncio.create_task(_last_event(w)) for w in watches]
        for start in range(0, JOBS, WAVE):
            for job_id in job_ids[start : start + WAVE]:
                await node.peer.send(result_for(await node.assign_of(job_id), node_id, "done"))
            await asyncio.gather(*ends[start : start + WAVE])  # one watcher per job
        lasts = await asyncio.gather(*ends)
        assert Counter(lasts) == {pb.JOB_EVENT_KIND_COMPLETED: WATCHERS}
        # All of them left: a new watcher is welcome again.
        again = stubs[0].WatchJob(pb.WatchJobRequest(job_id=job_ids[0]))
        assert (await again.read()).kind == pb.JOB_EVENT_KIND_DISPATCHED
        again.cancel()
    finally:
        await node.close()
        for channel in channels:
            await channel.close()


async def _job_of_session(node: NodeInbox, session_id: str) -> dict[str, Any]:
    async with node._arrived:
        await asyncio.wait_for(
            node._arrived.wait_for(
                lambda: any(a.get("session_id") == session_id for a in node.assigns.values())
            ),
            30,
        )
    return next(a for a in node.assigns.values() if a.get("session_id") == session_id)


async def _last_event(watch: Any) -> int:
    last = 0
    while (event := await watch.read()) is not grpc.aio.EOF:
        last = event.kind
    return last


@contextlib.asynccontextmanager
async def watching_a_dispatched_job(redis: RedisSettings, **dispatcher: Any) -> AsyncIterator[Any]:
    """A suite, a ready node holding one job, and a watch on it that has seen DISPATCHED."""
    suite = await InProcessSuite(redis, dispatcher_overrides=dispatcher).start()
    try:
        peer, _node_id = await ready_node(suite)
        async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
            stub = pb_grpc.DispatcherServiceStub(channel)
            job = (await stub.SubmitJob(submit_request())).job
            await peer.expect("job_assign")
            watch = stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id))
            assert (await watch.read()).kind == pb.JOB_EVENT_KIND_DISPATCHED
            yield watch
        await peer.close()
    finally:
        await suite.stop()


NEVER_MS = 3_600_000  # the loss check and the sweep stay out of the way


async def test_announcements_alone_bring_a_watched_jobs_events(
    redis_settings: RedisSettings,
) -> None:
    suite = await InProcessSuite(
        redis_settings,
        dispatcher_overrides={"watch_loss_check_ms": NEVER_MS, "watch_sweep_ms": NEVER_MS},
    ).start()
    try:
        peer, node_id = await ready_node(suite)
        async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
            stub = pb_grpc.DispatcherServiceStub(channel)
            job = (await stub.SubmitJob(submit_request())).job
            assign = await peer.expect("job_assign")
            watch = stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id))
            assert (await watch.read()).kind == pb.JOB_EVENT_KIND_DISPATCHED
            await peer.send(result_for(assign, node_id, "hi"))
            assert await _last_event(watch) == pb.JOB_EVENT_KIND_COMPLETED
        await peer.close()
    finally:
        await suite.stop()


async def test_a_watch_whose_job_redis_lost_in_a_restart_ends_not_found() -> None:
    server = RedisServer().start()
    try:
        redis = RedisSettings(url=server.url, key_prefix="lost:v1")
        # Only the subscription's reconnect can notice here.
        async with watching_a_dispatched_job(
            redis, watch_loss_check_ms=NEVER_MS, watch_sweep_ms=NEVER_MS
        ) as watch:
            lost = time.monotonic()
            server.kill()
            server.spawn()  # same port, empty: what a restart without persistence is
            server.wait_ready()
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await _last_event(watch)
            assert ended.value.code() == grpc.StatusCode.NOT_FOUND
            print(f"\nNOT_FOUND {time.monotonic() - lost:.2f} s after Redis was killed")
    finally:
        server.cleanup()


async def test_a_watch_whose_job_a_flushall_erased_ends_not_found() -> None:
    server = RedisServer().start()
    try:
        redis = RedisSettings(url=server.url, key_prefix="flushed:v1")
        # No reconnect here: the data-loss check (default: every second) notices.
        async with watching_a_dispatched_job(redis, watch_sweep_ms=NEVER_MS) as watch:
            client = connect(redis)
            await client.flushall()
            lost = time.monotonic()
            await client.aclose()
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await _last_event(watch)
            assert ended.value.code() == grpc.StatusCode.NOT_FOUND
            print(f"\nNOT_FOUND {time.monotonic() - lost:.2f} s after FLUSHALL")
    finally:
        server.cleanup()
