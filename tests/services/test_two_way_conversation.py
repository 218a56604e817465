"""Two-way automatic mode and utterance groups, through the real gateway, dispatcher,
pool and registry on real Redis (PROTOCOL.md "Semantics the existing clients depend on").

The recorded conversation (golden/two_way_conversation.json) is replayed frame by frame
with time on a ManualClock, so the group window is crossed exactly, never slept into.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dispatcher_grpc
from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, connect, initialize
from lingua_common.redis_client import close as close_redis
from lingua_common.settings import RedisSettings
from services.gateway.groups import GroupSettings, Playback, RedisGroupStore
from tests.peers import Peer, utterance_message
from tests.services import golden_replay
from tests.services.gateway_helpers import conforms, ready_node, result_for, running_suite
from tests.suite import InProcessSuite, team_address

GOLDEN = Path(__file__).parent / "golden" / "two_way_conversation.json"
BOTH_WAYS = (("zh", "en"), ("en", "zh"))
TWO_WAY = {
    "src_lang": "auto",
    "tgt_lang": "en",
    "mode": "two_way_auto",
    "lang_a": "zh",
    "lang_b": "en",
    "auto_langs": ["zh", "en"],
}


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def two_gateways(
    redis_settings: RedisSettings, clock: ManualClock
) -> AsyncIterator[InProcessSuite]:
    async with running_suite(redis_settings, gateways=2, clock=clock) as suite:
        yield suite


async def two_way_session(url: str) -> tuple[Peer, str]:
    client = await Peer.open(url + "/ws/session")
    await client.send(
        {"type": "session_init", "client_version": "web/2", "platform": "web", **TWO_WAY}
    )
    return client, (await client.expect("session_init_ack"))["session_id"]


async def test_the_recorded_two_way_conversation_is_answered_field_for_field(
    two_gateways: InProcessSuite, clock: ManualClock
) -> None:
    node, node_id = await ready_node(two_gateways, 0, pairs=BOTH_WAYS)
    client = await Peer.open(two_gateways.ws_url(1) + "/ws/session")
    bound: dict[str, object] = {"node": node_id}
    await golden_replay.replay(
        golden_replay.load(GOLDEN), {"client": client, "node": node}, clock, bound
    )
    # Four results, two groups, split exactly at the playback gap longer than the window.
    assert bound["job0"] != bound["job1"] != bound["job2"] != bound["job3"]
    await node.close()
    await client.close()


async def test_a_one_way_node_gets_no_two_way_job_and_the_error_names_the_pair(
    redis_settings: RedisSettings,
) -> None:
    async with running_suite(redis_settings) as suite:
        # A node serving zh->en only cannot answer someone speaking English.
        node, _ = await ready_node(suite, pairs=(("zh", "en"),))
        client, session_id = await two_way_session(suite.ws_url())
        await client.send({**utterance_message(session_id, 0, b"hello"), **TWO_WAY})
        error = conforms("client_in", await client.expect("error", wait_s=10))
        assert error["code"] == "NO_AVAILABLE_NODE"
        assert "zh<->en" in error["message"] and "auto" not in error["message"]
        assert error["details"]["utterance_index"] == 0
        assert [m["type"] for m in node.seen] == ["node_register_ack"]
        await node.close()
        await client.close()


async def test_utterance_messages_with_auto_go_to_a_node_serving_both_ways(
    two_gateways: InProcessSuite,
) -> None:
    one_way, _ = await ready_node(two_gateways, 0, pairs=(("en", "zh"),))
    both, both_id = await ready_node(two_gateways, 1, pairs=BOTH_WAYS)
    client, session_id = await two_way_session(two_gateways.ws_url(0))
    for index in range(3):
        await client.send({**utterance_message(session_id, index, b"x%d" % index), **TWO_WAY})
        assign = conforms("node_in", await both.expect("job_assign"))
        assert {k: assign[k] for k in TWO_WAY} == TWO_WAY  # carried unchanged
        await both.send(result_for(assign, both_id, f"said {index}"))
        result = conforms("client_in", await client.expect("translation_result"))
        assert (result["utterance_index"], result["part_index"]) == (index, index)
    assert [m["type"] for m in one_way.seen] == ["node_register_ack"]
    for peer in (one_way, both, client):
        await peer.close()


async def test_submit_job_takes_the_two_way_mode(two_gateways: InProcessSuite) -> None:
    node, node_id = await ready_node(two_gateways, 0, pairs=BOTH_WAYS)
    async with grpc.aio.insecure_channel(team_address(two_gateways.dispatcher)) as channel:
        stub = dispatcher_grpc.DispatcherServiceStub(channel)
        submitted = await stub.SubmitJob(
            dispatcher_pb.SubmitJobRequest(
                request_id="two-way/1",
                tenant_id="team-a",
                audio=b"speech",
                audio_format="pcm16",
                sample_rate=16000,
                src_lang="auto",
                tgt_lang="en",
                mode=job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO,
                lang_a="zh",
                lang_b="en",
                auto_langs=["zh", "en"],
            )
        )
        assign = conforms("node_in", await node.expect("job_assign"))
        assert assign["job_id"] == submitted.job.job_id
        assert (assign["src_lang"], assign["mode"], assign["lang_a"], assign["lang_b"]) == (
            "auto",
            "two_way_auto",
            "zh",
            "en",
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.SubmitJob(
                dispatcher_pb.SubmitJobRequest(
                    audio=b"speech",
                    audio_format="pcm16",
                    sample_rate=16000,
                    src_lang="auto",
                    tgt_lang="en",
                )
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "lang_a" in (refused.value.details() or "")
    await node.send(result_for(assign, node_id, "done"))
    await node.close()


async def test_a_session_init_with_auto_and_no_pair_is_refused_naming_the_fields(
    two_gateways: InProcessSuite,
) -> None:
    client = await Peer.open(two_gateways.ws_url() + "/ws/session")
    await client.send(
        {
            "type": "session_init",
            "client_version": "web/2",
            "platform": "web",
            "src_lang": "auto",
            "tgt_lang": "en",
        }
    )
    error = conforms("client_in", await client.expect("error"))
    assert error["code"] == "INVALID_MESSAGE"
    assert "'lang_a'" in error["message"] and "'lang_b'" in error["message"]
    await client.close()


@pytest.fixture
async def other_replica(redis_settings: RedisSettings) -> AsyncIterator[RedisGroupStore]:
    """Another gateway replica's view of the groups: its own Redis client and scripts,
    the same code and settings as every gateway."""
    client = connect(redis_settings)
    await initialize(client)
    keys = Keys(redis_settings.key_prefix)
    yield RedisGroupStore(client, LuaScripts(client), keys, GroupSettings())
    await close_redis(client)


async def test_two_gateways_make_the_same_group_decision(
    two_gateways: InProcessSuite, clock: ManualClock, other_replica: RedisGroupStore
) -> None:
    """The session lives on gateway 0; its playback end is recorded by another replica
    (as after a reconnect there). Gateway 0's next decision follows it, and the other
    replica reads the same open group."""
    node, node_id = await ready_node(two_gateways, 1, pairs=BOTH_WAYS)
    client, session_id = await two_way_session(two_gateways.ws_url(0))

    async def answer(index: int) -> dict[str, object]:
        await client.send({**utterance_message(session_id, index, b"u%d" % index), **TWO_WAY})
        assign = await node.expect("job_assign")
        await node.send(result_for(assign, node_id, f"part {index}"))
        return await client.expect("translation_result")

    first = await answer(0)
    assert first["part_index"] == 0
    clock.advance(1500)
    # The other replica records the end of playback (on the scheduler's clock).
    group_id = str(first["group_id"])
    assert await other_replica.playback(session_id, group_id, Playback.ENDED, clock.now_ms())
    clock.advance(1900)  # 3.4 s after the group opened, 1.9 s after its playback ended
    second = await answer(1)
    assert (second["group_id"], second["part_index"]) == (first["group_id"], 1)
    # Without that playback end the group would have closed: 3.4 s > the 2 s window.
    clock.advance(2001)
    third = await answer(2)
    assert third["group_id"] != first["group_id"] and third["part_index"] == 0
    assert third["group_id"] == f"group_{session_id}_{clock.now_ms()}"
    await node.close()
    await client.close()
