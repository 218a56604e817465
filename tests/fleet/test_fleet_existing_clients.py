"""The fleet's two-way client and real-agent-style node against the minimal scheduler:
what they send fits PROTOCOL.md and behaves as the network's existing programs do."""

from __future__ import annotations

import base64
import dataclasses
from typing import TYPE_CHECKING

from tests.fleet.test_fleet_peers import FAST_CLIENT, assert_on_protocol, start_node
from tools.fleet import payload
from tools.fleet.client import ClientConfig, FakeClient
from tools.fleet.fleet import FleetConfig

if TYPE_CHECKING:
    from conftest import MiniScheduler

BOTH_WAYS = (("zh", "en"), ("en", "zh"))


async def test_a_two_way_client_speaks_both_languages_and_reports_playback(
    sched: MiniScheduler,
) -> None:
    url = await sched.listen()
    node = await start_node(sched, url, pairs=BOTH_WAYS)
    config = ClientConfig(url=url, utterances=4, two_way=("zh", "en"), playback_s=0.0)
    client = FakeClient(dataclasses.replace(config, **FAST_CLIENT))
    try:
        report = await client.run()
        await sched.wait_kind("tts_play_ended", count=4)
    finally:
        await node.stop()
    [init] = sched.messages("session_init")
    assert {k: init[k] for k in ("src_lang", "tgt_lang", "mode", "lang_a", "lang_b")} == {
        "src_lang": "auto",
        "tgt_lang": "en",
        "mode": "two_way_auto",
        "lang_a": "zh",
        "lang_b": "en",
    }
    # The node "heard" who spoke and translated into the other language: all correct.
    spoken = [payload.spoken_language(u) for u in _audios(sched)]
    assert spoken == ["zh", "en", "zh", "en"]
    assert (report.correct, report.wrong, report.ungrouped) == (4, 0, 0)
    assert report.playbacks == 4 and report.groups == 1
    ended = sched.messages("tts_play_ended")
    assert {m["group_id"] for m in ended} == {f"group_{report.session_id}"}
    assert_on_protocol(sched)


async def test_a_result_without_a_group_is_counted_as_off_protocol(sched: MiniScheduler) -> None:
    sched.drop_group_id = True
    url = await sched.listen()
    node = await start_node(sched, url, pairs=BOTH_WAYS)
    config = ClientConfig(url=url, utterances=2, two_way=("zh", "en"), playback_s=0.0)
    try:
        report = await FakeClient(dataclasses.replace(config, **FAST_CLIENT)).run()
    finally:
        await node.stop()
    assert (report.correct, report.ungrouped, report.playbacks) == (2, 2, 0)
    assert sched.messages("tts_started") == []  # the web client reports nothing then


async def test_a_real_style_agent_beats_before_it_registers_again_with_its_id(
    sched: MiniScheduler,
) -> None:
    url = await sched.listen()
    events: list[str] = []
    node = await start_node(
        sched,
        url,
        heartbeat_outlives_socket=True,
        drop_every_s=0.05,
        heartbeat_interval_s=3600.0,  # only the beats around (re)registration
    )
    node._on_event = lambda _name, what: events.append(what)
    try:
        await sched.wait_kind("node_register", count=3)
        await node.wait_registered(10.0)
    finally:
        await node.stop()
    kinds = [m["type"] for ep, m in sched.received if ep == "/ws/node"]
    # register, beat | beat, register, beat | beat, register, beat ...
    assert kinds[:6] == [
        "node_register",
        "node_heartbeat",
        "node_heartbeat",
        "node_register",
        "node_heartbeat",
        "node_heartbeat",
    ]
    assert {m.get("node_id") for m in sched.messages("node_register")[1:]} == {node.node_id}
    assert node.stats.drops >= 2 and node.stats.early_heartbeats >= 2
    assert "registered again as node-1" in events
    assert_on_protocol(sched)


def test_two_way_clients_need_nodes_serving_both_directions() -> None:
    FleetConfig(pairs=BOTH_WAYS, two_way_clients=1)
    try:
        FleetConfig(pairs=(("zh", "en"),), two_way_clients=1)
    except ValueError as error:
        assert "zh:en and en:zh" in str(error)
    else:
        raise AssertionError("accepted two-way clients no node could serve")
    config = FleetConfig(
        pairs=BOTH_WAYS, clients=1, two_way_clients=2, nodes=3, reconnecting_nodes=1
    )
    assert [config.client_config(i).two_way for i in range(3)] == [None, ("zh", "en"), ("zh", "en")]
    assert [config.node_config(i).heartbeat_outlives_socket for i in range(3)] == [
        False,
        False,
        True,
    ]
    assert config.node_config(2).reconnect_initial_s == 5.0  # the real agent's back-off


def _audios(sched: MiniScheduler) -> list[bytes]:
    return [base64.b64decode(m["audio"]) for m in sched.messages("utterance")]
