"""Real traffic through the in-process suite, then every service's GET /metrics read
over HTTP: the job counters add up against the Redis-backed gauges (jobs created =
completed + failed + cancelled + in flight), with jobs running, waiting, refused for
want of a node, cancelled and failed over; connections, nodes and heartbeats match
what is connected. Runs on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc

from lingua.dispatcher.v1 import dispatcher_service_pb2 as pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as pb_grpc
from tests.metrics_scrape import Samples, scrape
from tests.peers import Message, Peer, open_session, utterance_message
from tests.services.gateway_helpers import ready_node, result_for
from tests.services.lifecycle_helpers import dispatcher_places_on
from tests.suite import InProcessSuite, team_address

FINAL_STATES = ("completed", "failed", "cancelled")
NODE_SKIP = ("ui_event", "job_cancel")


async def dispatcher_view(suite: InProcessSuite) -> Samples:
    return await scrape(suite.dispatcher.ports["metrics"])


async def until(
    read: Callable[[], Awaitable[Samples]], check: Callable[[Samples], bool], wait_s: float = 5.0
) -> Samples:
    """Scrape until `check` holds (gauges converge; counters are then read exactly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        samples = await read()
        if check(samples):
            return samples
        assert loop.time() < deadline, f"metrics did not converge: {samples.values}"
        await asyncio.sleep(0.02)


def finished(samples: Samples, state: str) -> float:
    return samples.get("lingua_jobs_finished_total", state=state)


def assert_jobs_add_up(samples: Samples, created: int) -> None:
    assert samples.get("lingua_jobs_created_total") == created
    done = sum(finished(samples, state) for state in FINAL_STATES)
    assert done + samples.get("lingua_jobs_in_flight") == created


def dispatched(samples: Samples) -> float:
    return samples.get("lingua_placements_total", outcome="dispatched")


def in_flight(count: int) -> Callable[[Samples], bool]:
    return lambda s: s.get("lingua_jobs_in_flight") == count


async def assign_of(peers: list[tuple[Peer, str]]) -> tuple[Peer, str, Message]:
    """The job_assign whichever node got it."""
    reads = {
        asyncio.create_task(peer.expect("job_assign", skip=NODE_SKIP)): (peer, node_id)
        for peer, node_id in peers
    }
    done, pending = await asyncio.wait(reads, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    task = done.pop()
    peer, node_id = reads[task]
    return peer, node_id, task.result()


async def test_job_counters_add_up_through_waits_refusals_cancels_and_failovers(
    suite: InProcessSuite,
) -> None:
    node_a, a_id = await ready_node(suite, gateway=0)
    await dispatcher_places_on(suite, 1)
    client, session_id = await open_session(suite.ws_url(1))

    # Five utterances, four slots: four run, one waits.
    for index in range(5):
        await client.send(utterance_message(session_id, index, f"u{index}".encode()))
    assigns = [await node_a.expect("job_assign") for _ in range(4)]
    # A node may read its assignment before the placement has returned: wait for both.
    view = await until(
        lambda: dispatcher_view(suite),
        lambda s: s.get("lingua_pending_jobs") == 1 and dispatched(s) == 4,
    )
    assert view.get("lingua_jobs_in_flight") == 5
    assert_jobs_add_up(view, created=5)
    assert view.get("lingua_reservations_total", outcome="reserved") == 4
    assert view.get("lingua_placements_total", outcome="no_capacity") >= 1
    assert view.get("lingua_dispatch_latency_seconds_count") == 4

    # A slot frees, the waiting job goes out; every job is answered.
    await node_a.send(result_for(assigns[0], a_id, "t0"))
    assigns.append(await node_a.expect("job_assign"))
    for assign in assigns[1:]:
        await node_a.send(result_for(assign, a_id, "t"))
    seen = [(await client.expect("translation_result"))["utterance_index"] for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]
    view = await until(
        lambda: dispatcher_view(suite),
        lambda s: (
            in_flight(0)(s)
            and s.get("lingua_result_latency_seconds_count") == 5
            and dispatched(s) == 5
        ),
    )
    assert_jobs_add_up(view, created=5)
    assert (finished(view, "completed"), view.get("lingua_pending_jobs")) == (5, 0)
    assert view.get("lingua_dispatch_latency_seconds_count") == 5

    # Nobody serves en->fr: NO_AVAILABLE_NODE, counted once.
    other, other_session = await open_session(suite.ws_url(0), "en", "fr")
    await other.send(utterance_message(other_session, 0, b"bonjour", "en", "fr"))
    assert (await other.expect("error"))["code"] == "NO_AVAILABLE_NODE"

    # A running job is cancelled through the API.
    await client.send(utterance_message(session_id, 5, b"cancel me"))
    cancelled = await node_a.expect("job_assign")
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        stub = pb_grpc.DispatcherServiceStub(channel)
        await stub.CancelJob(pb.CancelJobRequest(job_id=cancelled["job_id"], reason="test"))
    assert (await client.expect("error"))["code"] == "JOB_CANCELLED"

    # A second node joins; the node holding the next job is lost and the job moves.
    node_b, b_id = await ready_node(suite, gateway=1)
    await dispatcher_places_on(suite, 2)
    await client.send(utterance_message(session_id, 6, b"survive"))
    lost, lost_id, first = await assign_of([(node_a, a_id), (node_b, b_id)])
    survivor, survivor_id = (node_b, b_id) if lost_id == a_id else (node_a, a_id)
    await lost.close()
    second = await survivor.expect("job_assign", wait_s=10, skip=NODE_SKIP)
    assert (second["job_id"], second["attempt_id"]) == (first["job_id"], 2)
    await survivor.send(result_for(second, survivor_id, "survived"))
    assert (await client.expect("translation_result"))["text_asr"] == "survived"

    view = await until(
        lambda: dispatcher_view(suite),
        lambda s: (
            in_flight(0)(s)
            and s.get("lingua_result_latency_seconds_count") == 6
            and dispatched(s) == 8
        ),
    )
    assert_jobs_add_up(view, created=8)
    assert [finished(view, state) for state in FINAL_STATES] == [6, 1, 1]
    assert view.get("lingua_no_available_node_total") == 1
    # The waiting job is tried again while it waits for a node.
    assert view.get("lingua_placements_total", outcome="no_node") >= 1
    assert view.get("lingua_failovers_total", reason="node_lost") == 1
    assert view.get("lingua_failovers_total") == 1
    # 5 + the cancelled job + both attempts of the moved one.
    assert view.get("lingua_dispatch_latency_seconds_count") == 8

    registry = await until(
        lambda: scrape(suite.registry.ports["metrics"]),
        lambda s: s.get("lingua_nodes", status="offline") == 1,
    )
    assert registry.get("lingua_nodes", status="ready") == 1
    assert registry.get("lingua_nodes") == 2
    assert registry.get("lingua_heartbeats_total", outcome="ok") == 2
    assert registry.get("lingua_node_registrations_total") == 2

    gateways = await scrape(*(app.ports["metrics"] for app in suite.gateway_apps))
    assert gateways.get("lingua_connections", kind="node") == 1
    assert gateways.get("lingua_connections", kind="session") == 2
    survivor_gateway = suite.gateway_apps[0 if survivor_id == a_id else 1]
    own = await scrape(survivor_gateway.ports["metrics"])
    assert own.get("lingua_connections", kind="node") == 1

    everyone = await scrape(*(app.ports["metrics"] for app in suite.apps))
    assert everyone.get("lingua_redis_errors_total") == 0
    assert everyone.get("lingua_metrics_refresh_errors_total") == 0
    for peer in (survivor, client, other):
        await peer.close()


async def test_connections_follow_sockets_as_they_open_and_close(suite: InProcessSuite) -> None:
    port = suite.gateway_apps[0].ports["metrics"]
    node, _ = await ready_node(suite, gateway=0)
    sessions = [(await open_session(suite.ws_url(0)))[0] for _ in range(3)]
    view = await scrape(port)
    assert (
        view.get("lingua_connections", kind="node"),
        view.get("lingua_connections", kind="session"),
    ) == (1, 3)
    await sessions.pop().close()
    await node.close()
    view = await until(
        lambda: scrape(port),
        lambda s: s.get("lingua_connections", kind="session") == 2,
    )
    assert view.get("lingua_connections", kind="node") == 0
    for session in sessions:
        await session.close()
