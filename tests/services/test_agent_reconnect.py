"""A node agent reconnecting the way the network's real agent does (PROTOCOL.md
"Reconnect order of node agents", "A failed node is excluded per connection"): its
socket drops mid-job, its heartbeat timer fires on the new socket before it registers
again with its previous id (within the 2 s the gateway waits before taking it offline).

It hears no error, and the jobs cut while it was away run on it once it is back, not
NO_AVAILABLE_NODE: a job that failed on its old connection excluded that connection
(node@epoch), not the node. The job its old socket held is given up as soon as the
gateway saw the socket close (an agent drops the jobs of a closed socket), and waits for
the node to come back rather than for its result deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lingua_common.clock import ManualClock
from lingua_common.ids import job_id_for
from lingua_common.keys import Keys
from lingua_common.redis_client import connect
from lingua_common.settings import RedisSettings
from services.gateway.settings import AuthSettings
from tests.peers import Peer, heartbeat_message, open_session, register_message, utterance_message
from tests.services.gateway_helpers import conforms, ready_node, result_for
from tests.services.lifecycle_helpers import eventually, get_node, wait_status
from tests.suite import InProcessSuite

GRACE_MS = 2_000  # the agent comes back well within it


@pytest.fixture
async def suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    running = await InProcessSuite(
        redis_settings,
        clock=ManualClock(),
        # Nodes stay alive however far the clock moves; only jobs time out here.
        registry_overrides={"heartbeat_interval_ms": 3_600_000},
        gateway_overrides={"node_offline_grace_ms": GRACE_MS, "auth": AuthSettings(disabled=True)},
        dispatcher_overrides={"lost_connection_grace_ms": 50},
    ).start()
    yield running
    await running.stop()


async def job_field(suite: InProcessSuite, job_id: str, field: str) -> str:
    client = connect(suite.redis)
    try:
        value = await client.hget(Keys(suite.redis.key_prefix).job(job_id), field)
    finally:
        await client.aclose()
    return value.decode() if value else ""


async def open_node_sockets(suite: InProcessSuite) -> float:
    registry = suite.gateway_apps[0].metrics.registry
    return registry.get_sample_value("lingua_connections", {"kind": "node"}) or 0.0


async def test_an_agent_that_reconnects_mid_job_hears_no_error_and_gets_the_jobs_back(
    suite: InProcessSuite,
) -> None:
    clock = suite.clock
    assert isinstance(clock, ManualClock)
    node, node_id = await ready_node(suite)
    first_epoch = (await get_node(suite, node_id)).epoch
    client, session_id = await open_session(suite.ws_url())

    # Utterance 0 is on the node when its socket drops (no close handshake).
    await client.send(utterance_message(session_id, 0, b"in flight"))
    in_flight = await node.expect("job_assign")
    node.ws.transport.abort()

    async def gateway_saw_it_go() -> bool:
        return await open_node_sockets(suite) == 0

    await eventually(gateway_saw_it_go)

    # Utterance 1 is cut while the agent is away: its node is out of reach, so it waits.
    await client.send(utterance_message(session_id, 1, b"cut meanwhile"))
    waiting_job = job_id_for(f"{session_id}:1:en")

    async def waiting() -> bool:
        return await job_field(suite, waiting_job, "state") == "pending"

    await eventually(waiting)

    # The agent is back: its timer's heartbeat first, then register with its old id.
    agent = await Peer.open(suite.ws_url() + "/ws/node")
    await agent.send(heartbeat_message(node_id))
    await agent.send(register_message(node_id=node_id))
    ack = conforms("node_in", await agent.recv())  # the first frame: no error before it
    assert (ack["type"], ack["node_id"]) == ("node_register_ack", node_id)
    await agent.send(heartbeat_message(node_id))
    await wait_status(suite, node_id, "ready")
    assert (await get_node(suite, node_id)).epoch == first_epoch + 1

    # Both run on the node's new connection: the job cut meanwhile, and the job lost
    # with the old socket — given up when the socket closed (no clock moved: not at its
    # result deadline), its retry excluding the old epoch only.
    assigned = {}
    for _ in range(2):
        job = conforms("node_in", await agent.expect("job_assign", skip=("job_cancel",)))
        assigned[job["utterance_index"]] = job
    assert (assigned[1]["job_id"], assigned[1]["attempt_id"]) == (waiting_job, 1)
    assert (assigned[0]["job_id"], assigned[0]["attempt_id"]) == (in_flight["job_id"], 2)
    await agent.send(result_for(assigned[1], node_id, "meanwhile"))
    await agent.send(result_for(assigned[0], node_id, "again"))

    answers = [await client.expect("translation_result") for _ in range(2)]
    assert [(a["utterance_index"], a["text_asr"]) for a in answers] == [
        (0, "again"),
        (1, "meanwhile"),
    ]
    assert [m for m in agent.seen + client.seen if m["type"] == "error"] == []
    await agent.close()
    await client.close()
