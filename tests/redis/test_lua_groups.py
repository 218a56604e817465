"""Utterance groups (lua/group_result.lua, group_playback.lua through
services/gateway/groups.py) on a real server and a real cluster; the hints a session's
replica keeps from them (GroupMirror)."""

from __future__ import annotations

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, connect, initialize
from lingua_common.settings import RedisSettings
from services.gateway.groups import (
    GroupHint,
    GroupMirror,
    GroupPart,
    GroupSettings,
    Playback,
    RedisGroupStore,
)

T0 = 1_700_000_000_000
SETTINGS = GroupSettings(window_ms=2_000, context_chars=24, texts_kept=3, ttl_ms=60_000)


def store(client: RedisClient, keys: Keys) -> RedisGroupStore:
    return RedisGroupStore(client, LuaScripts(client), keys, SETTINGS)


async def test_results_join_the_open_group_within_the_window_of_its_creation(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    first = await groups.join("s1", 0, T0)
    assert first == GroupPart("group_s1_1700000000000", 0, True)
    assert await groups.join("s1", 1, T0 + 2_000) == GroupPart(first.group_id, 1, False)
    # Nothing was played: the window runs from the group's creation.
    assert await groups.join("s1", 2, T0 + 2_001) == GroupPart("group_s1_1700000002001", 0, True)


async def test_the_window_runs_from_the_last_playback_end_on_the_schedulers_clock(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    group = (await groups.join("s1", 0, T0)).group_id
    assert await groups.playback("s1", group, Playback.STARTED, T0 + 100)
    assert await groups.playback("s1", group, Playback.ENDED, T0 + 5_000)
    assert await groups.join("s1", 1, T0 + 7_000) == GroupPart(group, 1, False)
    assert await groups.playback("s1", group, Playback.ENDED, T0 + 8_000)
    assert (await groups.join("s1", 2, T0 + 10_001)).part_index == 0


async def test_playback_of_a_group_that_is_not_open_changes_nothing(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    old = (await groups.join("s1", 0, T0)).group_id
    new = (await groups.join("s1", 1, T0 + 3_000)).group_id
    assert not await groups.playback("s1", old, Playback.ENDED, T0 + 4_000)
    assert not await groups.playback("s1", "group_made_up", Playback.ENDED, T0 + 4_000)
    # The open group's window still runs from its creation (T0 + 3000).
    assert (await groups.join("s1", 2, T0 + 5_001)).group_id != new


async def test_the_same_utterance_asked_again_keeps_its_part(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    first = await groups.join("s1", 0, T0)
    again = await groups.join("s1", 0, T0 + 10)
    assert again == GroupPart(first.group_id, 0, False)
    assert (await groups.join("s1", 1, T0 + 20)).part_index == 1


async def test_the_hint_is_the_open_group_with_bounded_recent_texts(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups, mirror = store(redis_client, keys), GroupMirror(SETTINGS)
    assert mirror.hint(T0) is None
    for index, text in enumerate(["alpha", "bravo", "charlie", "delta"]):
        mirror.joined(await groups.join("s1", index, T0 + index), text, T0 + index)
    group = "group_s1_1700000000000"
    # Three texts kept, at most 24 characters, the newest ones; the next part is 4.
    assert mirror.hint(T0 + 1_000) == GroupHint(group, 4, "bravo charlie delta")
    long = "a long sentence that goes on and on"
    mirror.joined(await groups.join("s1", 4, T0 + 5), long, T0 + 5)
    hint = mirror.hint(T0 + 10)
    assert hint is not None and hint.context_text == long[-24:]
    assert mirror.hint(T0 + 2_001) is None  # nothing played: 2 s after creation it closes
    mirror.played(group, Playback.ENDED, T0 + 3_000)
    assert mirror.hint(T0 + 5_000) == GroupHint(group, 5, long[-24:])
    # A new group (the window passed in Redis too) starts the texts afresh.
    mirror.joined(await groups.join("s1", 5, T0 + 6_000), "echo", T0 + 6_000)
    assert mirror.hint(T0 + 6_000) == GroupHint("group_s1_1700000006000", 1, "echo")


async def test_two_replicas_with_their_own_clients_decide_alike(
    redis_settings: RedisSettings, keys: Keys
) -> None:
    clients = [connect(redis_settings) for _ in range(2)]
    for client in clients:
        await initialize(client)
    try:
        a, b = (store(client, keys) for client in clients)
        group = (await a.join("s9", 0, T0)).group_id
        assert await b.playback("s9", group, Playback.ENDED, T0 + 4_000)
        assert await a.join("s9", 1, T0 + 5_500) == GroupPart(group, 1, False)
        await b.forget("s9")  # the session ended (on whichever replica)
        assert (await a.join("s9", 2, T0 + 5_600)).opened
    finally:
        for client in clients:
            await client.aclose()
