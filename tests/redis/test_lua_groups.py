"""Utterance groups (lua/group_result.lua, group_playback.lua through
services/gateway/groups.py) on a real server and a real cluster."""

from __future__ import annotations

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, connect, initialize
from lingua_common.settings import RedisSettings
from services.gateway.groups import GroupHint, GroupPart, GroupSettings, Playback, RedisGroupStore

T0 = 1_700_000_000_000
SETTINGS = GroupSettings(window_ms=2_000, context_chars=24, texts_kept=3, ttl_ms=60_000)


def store(client: RedisClient, keys: Keys) -> RedisGroupStore:
    return RedisGroupStore(client, LuaScripts(client), keys, SETTINGS)


async def test_results_join_the_open_group_within_the_window_of_its_creation(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    first = await groups.join("s1", 0, "one", T0)
    assert first == GroupPart("group_s1_1700000000000", 0, True)
    assert await groups.join("s1", 1, "two", T0 + 2_000) == GroupPart(first.group_id, 1, False)
    # Nothing was played: the window runs from the group's creation.
    assert await groups.join("s1", 2, "three", T0 + 2_001) == GroupPart(
        "group_s1_1700000002001", 0, True
    )


async def test_the_window_runs_from_the_last_playback_end_on_the_schedulers_clock(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    group = (await groups.join("s1", 0, "one", T0)).group_id
    assert await groups.playback("s1", group, Playback.STARTED, T0 + 100)
    assert await groups.playback("s1", group, Playback.ENDED, T0 + 5_000)
    assert await groups.join("s1", 1, "two", T0 + 7_000) == GroupPart(group, 1, False)
    assert await groups.playback("s1", group, Playback.ENDED, T0 + 8_000)
    assert (await groups.join("s1", 2, "three", T0 + 10_001)).part_index == 0


async def test_playback_of_a_group_that_is_not_open_changes_nothing(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    old = (await groups.join("s1", 0, "one", T0)).group_id
    new = (await groups.join("s1", 1, "two", T0 + 3_000)).group_id
    assert not await groups.playback("s1", old, Playback.ENDED, T0 + 4_000)
    assert not await groups.playback("s1", "group_made_up", Playback.ENDED, T0 + 4_000)
    # The open group's window still runs from its creation (T0 + 3000).
    assert (await groups.join("s1", 2, "three", T0 + 5_001)).group_id != new


async def test_the_same_utterance_asked_again_keeps_its_part(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    first = await groups.join("s1", 0, "one", T0)
    again = await groups.join("s1", 0, "one", T0 + 10)
    assert again == GroupPart(first.group_id, 0, False)
    assert (await groups.join("s1", 1, "two", T0 + 20)).part_index == 1


async def test_the_hint_is_the_open_group_with_bounded_recent_texts(
    redis_client: RedisClient, keys: Keys
) -> None:
    groups = store(redis_client, keys)
    assert await groups.hint("s1", T0) is None
    group = (await groups.join("s1", 0, "alpha", T0)).group_id
    for index, text in enumerate(["bravo", "charlie", "delta"], start=1):
        await groups.join("s1", index, text, T0 + index)
    hint = await groups.hint("s1", T0 + 1_000)
    # Three texts kept, at most 24 characters, the newest ones.
    assert hint == GroupHint(group, 4, "bravo charlie delta")
    long = "a long sentence that goes on and on"
    await groups.join("s1", 4, long, T0 + 5)
    hint = await groups.hint("s1", T0 + 10)
    assert hint is not None and hint.context_text == long[-24:]
    assert await groups.hint("s1", T0 + 5 + 2_001) is None  # a new group would open
    await groups.forget("s1")
    assert await groups.hint("s1", T0 + 6) is None


async def test_two_replicas_with_their_own_clients_decide_alike(
    redis_settings: RedisSettings, keys: Keys
) -> None:
    clients = [connect(redis_settings) for _ in range(2)]
    for client in clients:
        await initialize(client)
    try:
        a, b = (store(client, keys) for client in clients)
        group = (await a.join("s9", 0, "hi", T0)).group_id
        assert await b.playback("s9", group, Playback.ENDED, T0 + 4_000)
        assert await a.join("s9", 1, "there", T0 + 5_500) == GroupPart(group, 1, False)
        assert await b.hint("s9", T0 + 5_600) == GroupHint(group, 2, "hi there")
    finally:
        for client in clients:
            await client.aclose()
