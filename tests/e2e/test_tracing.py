"""One trace per job, end to end: every service its own process, exporting OTLP to a
receiver in this test, node and client on different gateway replicas."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest

from lingua_common.telemetry import names
from tests.e2e.readiness import indexed
from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.services.gateway_helpers import result_for
from tools.launcher.stack import Stack, StackConfig
from tools.otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver) -> Iterator[Stack]:
    run_dir: Path = tmp_path_factory.mktemp("traced")
    env = {
        **receiver.env(),
        "LINGUA_JOB_TIMEOUT_MS": "1500",
        "LINGUA_NODE_OFFLINE_GRACE_MS": "100",
        "LINGUA_METRICS_PORT": "0",
    }
    running = Stack(StackConfig(gateway_ws_ports=(0, 0), run_dir=run_dir, env=env)).start()
    yield running
    codes = running.stop()
    assert all(code == 0 for code in codes.values()), codes


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    """Every socket a test opens is closed, also when it fails half way."""
    opened: list[Peer] = []
    yield opened
    for peer in opened:
        await peer.close()


def by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = by_name(spans, name)
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def ancestors(spans: list[ReceivedSpan], span: ReceivedSpan) -> list[str]:
    """Names from `span`'s parent up to the root; fails on a missing parent."""
    index = {s.span_id: s for s in spans}
    chain: list[str] = []
    while span.parent_span_id:
        assert span.parent_span_id in index, f"{span.name} has a parent outside the trace"
        span = index[span.parent_span_id]
        chain.append(span.name)
    return chain


def settled(trace_id: str, *required: str):  # type: ignore[no-untyped-def]
    def check(spans: list[ReceivedSpan]) -> bool:
        mine = [s for s in spans if s.trace_id == trace_id]
        return all(any(s.name == name for s in mine) for name in required)

    return check


async def wait_spans(receiver: OtlpReceiver, trace_id: str, *required: str) -> list[ReceivedSpan]:
    await asyncio.to_thread(receiver.wait_for, settled(trace_id, *required), 15.0)
    await asyncio.sleep(0.5)  # stragglers of the same trace
    return receiver.trace(trace_id)


async def test_one_utterance_is_one_trace_across_the_services(
    traced: Stack, receiver: OtlpReceiver, peers: list[Peer]
) -> None:
    node, node_id = await registered_node(traced.gateway_urls[0], pairs=[("zh", "en")])
    client, session_id = await open_session(traced.gateway_urls[1], "zh", "en")
    peers += [node, client]
    await indexed(traced, node_id, "zh", "en")
    message = utterance_message(session_id, 0, b"ni hao", "zh", "en")
    message["trace_id"] = "client-chosen-id"
    await client.send(message)
    assign = await node.expect("job_assign", wait_s=15)
    trace_id = assign["trace_id"]
    assert HEX32.match(trace_id), trace_id
    await node.send(result_for(assign, node_id, "ni hao"))
    answer = await client.expect("translation_result", wait_s=10)
    assert answer["trace_id"] == trace_id  # the wire trace id is the trace's id

    spans = await wait_spans(
        receiver, trace_id, names.GATEWAY_SEND_TO_SESSION, names.DISPATCHER_COMPLETE
    )
    services = {s.service for s in spans}
    assert {"lingua-gateway", "lingua-dispatcher"} <= services, services

    root = one(spans, names.GATEWAY_UTTERANCE)
    assert root.parent_span_id == ""
    assert root.attributes[names.CLIENT_TRACE_ID] == "client-chosen-id"
    assert [s for s in spans if not s.parent_span_id] == [root]  # a single tree

    create = one(spans, names.DISPATCHER_CREATE)
    assert create.service == "lingua-dispatcher"
    assert names.GATEWAY_UTTERANCE in ancestors(spans, create)
    select = one(spans, names.DISPATCHER_SELECT)
    assert select.attributes[names.SELECT_SOURCE] in ("replica", "pool_service")
    assert names.DISPATCHER_CREATE in ancestors(spans, select)
    reserve = by_name(spans, names.DISPATCHER_RESERVE)
    assert any(s.attributes.get(names.RESERVE_OUTCOME) == "reserved" for s in reserve)
    # The reservation's Redis script is a Redis span under it.
    redis_spans = [s for s in spans if s.attributes.get("db.system") == "redis"]
    assert any(names.DISPATCHER_RESERVE in ancestors(spans, s) for s in redis_spans)

    # gateway (node side) writes the job_assign under the dispatcher's delivery
    send = one(spans, names.GATEWAY_SEND_TO_NODE)
    assert send.service == "lingua-gateway"
    assert names.DISPATCHER_DELIVER in ancestors(spans, send)
    # the node's answer joins the trace where the job_assign left it
    result = one(spans, names.GATEWAY_NODE_RESULT)
    assert names.DISPATCHER_DELIVER in ancestors(spans, result)
    complete = one(spans, names.DISPATCHER_COMPLETE)
    assert complete.attributes[names.ACCEPTED] is True
    assert names.GATEWAY_NODE_RESULT in ancestors(spans, complete)
    delivered = [
        s
        for s in by_name(spans, names.GATEWAY_SEND_TO_SESSION)
        if s.attributes.get(names.MESSAGE_TYPE) == "outcome"
    ]
    assert len(delivered) == 1
    assert names.DISPATCHER_COMPLETE in ancestors(spans, delivered[0])

    # The dispatcher's log: one JSON line per state change, each carrying the trace.
    job_id = assign["job_id"]
    lines = [
        entry
        for entry in map(orjson.loads, traced.dispatchers[0].log_path.read_bytes().splitlines())
        if entry.get("job_id") == job_id
    ]
    # (The result can overtake the creation's own line: the node answers at once.)
    assert sorted((e["msg"], e["state"]) for e in lines) == [
        ("job created", "dispatched"),
        ("job finished", "completed"),
    ], lines
    span_ids = {s.span_id for s in spans}
    for entry in lines:
        assert entry["trace_id"] == trace_id
        assert entry["span_id"] in span_ids


async def test_a_pair_nobody_serves_asks_the_pool_service_in_the_same_trace(
    traced: Stack, receiver: OtlpReceiver, peers: list[Peer]
) -> None:
    client, session_id = await open_session(traced.gateway_urls[0], "ja", "ko")
    peers.append(client)
    await client.send(utterance_message(session_id, 0, b"konnichiwa", "ja", "ko"))
    error = await client.expect("error", wait_s=10)
    assert error["code"] == "NO_AVAILABLE_NODE"
    # An error carries no trace id on the wire: find the trace by its session.
    roots = await asyncio.to_thread(
        receiver.wait_for,
        lambda all_spans: any(
            s.name == names.GATEWAY_UTTERANCE and s.attributes.get(names.SESSION_ID) == session_id
            for s in all_spans
        ),
        15.0,
    )
    trace_id = next(s.trace_id for s in roots if s.attributes.get(names.SESSION_ID) == session_id)
    spans = await wait_spans(
        receiver, trace_id, names.POOL_FIND_CANDIDATES, names.DISPATCHER_TIMEOUT
    )
    # The job waited for a node (LINGUA_NO_NODE_WAIT_MS), looking again meanwhile; every
    # look is in the job's trace, then the wait ran out.
    lookups = by_name(spans, names.POOL_FIND_CANDIDATES)
    assert lookups
    for lookup in lookups:
        assert lookup.service == "lingua-pool"
        assert names.DISPATCHER_SELECT in ancestors(spans, lookup)
    assert one(spans, names.DISPATCHER_CREATE).attributes[names.JOB_STATE] == "pending"
    assert one(spans, names.DISPATCHER_TIMEOUT).attributes[names.JOB_STATE] == "pending"


async def answer_on(node: Peer, node_id: str) -> None:
    assign = await node.expect("job_assign", wait_s=15)
    await node.send(result_for(assign, node_id, "second try"))


async def test_a_timed_out_attempt_and_its_retry_share_one_trace(
    traced: Stack, receiver: OtlpReceiver, peers: list[Peer]
) -> None:
    silent, silent_id = await registered_node(traced.gateway_urls[0], pairs=[("fr", "de")])
    client, session_id = await open_session(traced.gateway_urls[1], "fr", "de")
    peers += [silent, client]
    await indexed(traced, silent_id, "fr", "de")
    await client.send(utterance_message(session_id, 0, b"bonjour", "fr", "de"))
    first = await silent.expect("job_assign", wait_s=10)
    helper, helper_id = await registered_node(traced.gateway_urls[1], pairs=[("fr", "de")])
    peers.append(helper)
    await indexed(traced, helper_id, "fr", "de")
    # The silent node never answers: after the deadline the job goes to the other node.
    answering = asyncio.create_task(answer_on(helper, helper_id))
    answer = await client.expect("translation_result", wait_s=20)
    await answering
    assert answer["trace_id"] == first["trace_id"]

    spans = await wait_spans(
        receiver, first["trace_id"], names.DISPATCHER_TIMEOUT, names.DISPATCHER_COMPLETE
    )
    attempts = sorted(
        s.attributes[names.JOB_ATTEMPT] for s in by_name(spans, names.DISPATCHER_PLACE)
    )
    assert attempts == [1, 2], attempts
    timeout = one(spans, names.DISPATCHER_TIMEOUT)
    assert names.DISPATCHER_CREATE in ancestors(spans, timeout)  # continued from the record
    retry = next(
        s for s in by_name(spans, names.DISPATCHER_PLACE) if s.attributes[names.JOB_ATTEMPT] == 2
    )
    assert names.DISPATCHER_TIMEOUT in ancestors(spans, retry)


async def test_a_lost_node_fails_over_in_the_jobs_trace_linked_to_the_registry(
    traced: Stack, receiver: OtlpReceiver, peers: list[Peer]
) -> None:
    doomed, doomed_id = await registered_node(traced.gateway_urls[0], pairs=[("it", "es")])
    client, session_id = await open_session(traced.gateway_urls[1], "it", "es")
    peers += [doomed, client]
    await indexed(traced, doomed_id, "it", "es")
    await client.send(utterance_message(session_id, 0, b"ciao", "it", "es"))
    first = await doomed.expect("job_assign", wait_s=10)
    survivor, survivor_id = await registered_node(traced.gateway_urls[1], pairs=[("it", "es")])
    peers.append(survivor)
    await indexed(traced, survivor_id, "it", "es")
    answering = asyncio.create_task(answer_on(survivor, survivor_id))
    await doomed.close()  # gone: the registry takes it offline, its job fails over at once
    answer = await client.expect("translation_result", wait_s=20)
    await answering
    assert answer["trace_id"] == first["trace_id"]

    spans = await wait_spans(receiver, first["trace_id"], names.DISPATCHER_FAILOVER)
    failover = one(spans, names.DISPATCHER_FAILOVER)
    assert names.DISPATCHER_CREATE in ancestors(spans, failover)
    attempts = sorted(
        s.attributes[names.JOB_ATTEMPT] for s in by_name(spans, names.DISPATCHER_PLACE)
    )
    assert attempts == [1, 2], attempts
    # The failover links to the registry's span that took the node offline.
    assert len(failover.links) == 1
    link_trace, link_span = failover.links[0]
    offline = await asyncio.to_thread(
        receiver.wait_for,
        lambda all_spans: any(s.span_id == link_span for s in all_spans),
        10.0,
    )
    cause = next(s for s in offline if s.span_id == link_span)
    assert (cause.service, cause.name, cause.trace_id) == (
        "lingua-registry",
        names.REGISTRY_NODE_OFFLINE,
        link_trace,
    )
