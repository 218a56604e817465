"""Utterance groups when Redis does not answer (services/gateway/groups.py,
session_groups.py): calls fail fast after one failure, results still name a group."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from lingua_common.clock import ManualClock
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, connect
from lingua_common.settings import RedisSettings
from services.gateway.groups import (
    BACK_OFF_S,
    GroupSettings,
    GroupsUnavailableError,
    Playback,
    RedisGroupStore,
)
from services.gateway.session_groups import GroupStamper


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Unreachable = tuple[RedisGroupStore, ManualClock]


@pytest.fixture
async def unreachable() -> AsyncIterator[Unreachable]:
    clock = ManualClock()
    client = connect(RedisSettings(url=f"redis://127.0.0.1:{closed_port()}/0"))
    keys = Keys("t:v1")
    yield (
        RedisGroupStore(
            client, LuaScripts(client), keys, GroupSettings(), monotonic=clock.monotonic
        ),
        clock,
    )
    await client.aclose()


async def test_after_one_failure_calls_fail_at_once_for_a_while(unreachable: Unreachable) -> None:
    store, clock = unreachable
    with pytest.raises(GroupsUnavailableError, match="Connection"):
        await store.join("s1", 0, 0)
    # Within the back-off nothing is tried: the message says so.
    for call in (store.join("s1", 1, 0), store.playback("s1", "g", Playback.ENDED, 0)):
        with pytest.raises(GroupsUnavailableError, match="a recent call failed"):
            await call
    clock.advance(int(BACK_OFF_S * 1000))
    with pytest.raises(GroupsUnavailableError, match="Connection"):  # tried again
        await store.join("s1", 0, 0)


async def test_a_result_still_names_a_group_of_its_own(unreachable: Unreachable) -> None:
    store, clock = unreachable
    sent: list[dict[str, object]] = []
    stamper = GroupStamper(store, "s1", clock, sent.append)
    result = {"type": "translation_result", "utterance_index": 3, "text_asr": "hi"}
    stamper.send(result)
    stamper.send({"type": "ui_event", "event": "NMT_DONE"})  # behind it, in order
    assert await stamper.wait_idle(5.0)
    assert [m["type"] for m in sent] == ["translation_result", "ui_event"]
    assert (sent[0]["group_id"], sent[0]["part_index"]) == (f"group_s1_{clock.now_ms()}", 0)
