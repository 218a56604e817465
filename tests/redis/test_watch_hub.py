"""The watch hub over a real server and a real cluster, driven step by step
(`read_once`, `sweep_once`): marking, announcements, fan-out, the safety poll, the cap,
and a job whose data vanished."""

from __future__ import annotations

import asyncio

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, connect
from lingua_common.settings import RedisSettings
from services.dispatcher.errors import JobNotFound, WatchersFull
from services.dispatcher.watch_hub import Watcher, WatchHub, WatchSettings
from services.dispatcher.watch_store import RedisWatchStore
from tests.redis.jobs import assign, create, finish
from tests.services.lifecycle_helpers import eventually


def hub_on(redis_client: RedisClient, lua: LuaScripts, keys: Keys, **settings: int) -> WatchHub:
    return WatchHub(RedisWatchStore(redis_client, lua, keys), WatchSettings(**settings))


async def kinds(watcher: Watcher) -> list[str]:
    update = await watcher.next()
    return [event.kind for event in update.events]


async def test_a_first_watcher_marks_the_job_and_gets_its_history(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j1")
    assert await redis_client.hget(keys.job("j1"), "watched") is None
    assert await hub.read_once() == 1
    assert await kinds(watcher) == ["created", "dispatched"]
    assert await redis_client.hget(keys.job("j1"), "watched") == b"1"


async def test_only_watched_jobs_announce_their_events(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    store = RedisWatchStore(redis_client, lua, keys)
    hub = WatchHub(store, WatchSettings())
    announcements = store.announcements()
    await announcements.open()
    try:
        for job in ("quiet", "watched"):
            await create(lua, keys, job, request=job)
        hub.watch("watched")
        await hub.read_once()  # marks it
        # The unwatched job's transition comes first: had it announced, it would be read
        # first, since one connection delivers in order.
        await assign(lua, keys, "quiet", "n1", 1)
        await assign(lua, keys, "watched", "n1", 1)
        heard = None
        while heard is None:
            heard = await announcements.next_job_id(5.0)
        assert heard == "watched"
    finally:
        await announcements.close()


async def test_one_read_serves_every_watcher_of_a_job(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    watchers = [hub.watch("j1") for _ in range(100)]
    assert await hub.read_once() == 1
    for watcher in watchers:
        assert await kinds(watcher) == ["created"]
    await assign(lua, keys, "j1", "n1", 1)
    hub.announced("j1")
    late = hub.watch("j1")  # joins between two events: gets the history too
    assert await hub.read_once() == 1
    for watcher in watchers:
        assert await kinds(watcher) == ["dispatched"]
    assert await kinds(late) == ["created", "dispatched"]
    assert (hub.watchers, hub.followed_jobs) == (101, 1)
    for watcher in [*watchers, late]:
        hub.leave(watcher)
    assert (hub.watchers, hub.followed_jobs) == (0, 0)


async def test_the_sweep_finds_an_event_whose_announcement_was_lost(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["created"]
    await assign(lua, keys, "j1", "n1", 1)  # announced, but nobody listens
    assert await hub.read_once() == 0
    await hub.sweep_once()
    assert await hub.read_once() == 1
    assert await kinds(watcher) == ["dispatched"]
    await hub.sweep_once()  # nothing new: nothing to read
    assert await hub.read_once() == 0


async def test_a_job_whose_data_vanished_ends_its_watch_with_not_found(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["created"]
    # What Redis losing its data (a restart without persistence, FLUSHALL) does to it.
    await redis_client.delete(keys.job("j1"))
    await redis_client.delete(keys.job_events("j1"))
    await hub.sweep_once()
    await hub.read_once()
    with pytest.raises(JobNotFound):
        await watcher.next()


async def test_lost_data_seen_by_the_sentinel_ends_watches_of_vanished_jobs(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    assert await hub.check_loss_once()  # the first check sets the sentinel
    assert not await hub.check_loss_once()
    watcher = hub.watch("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["created"]
    # Redis loses everything: the sentinel and the job.
    sentinels = [k async for k in redis_client.scan_iter(match=keys.watch_sentinel("*"))]
    assert len(sentinels) == 1
    for key in (sentinels[0], keys.job("j1"), keys.job_events("j1")):
        await redis_client.delete(key)
    assert await hub.check_loss_once()
    await hub.read_once()
    with pytest.raises(JobNotFound):
        await watcher.next()


async def test_an_unknown_job_is_not_found(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j-nope")
    await hub.read_once()
    with pytest.raises(JobNotFound):
        await watcher.next()
    assert not await redis_client.exists(keys.job("j-nope"))  # marking created nothing


async def test_watchers_beyond_the_cap_are_refused_until_one_leaves(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    hub = hub_on(redis_client, lua, keys, max_watchers=2)
    first, _second = hub.watch("a"), hub.watch("b")
    with pytest.raises(WatchersFull) as refused:
        hub.watch("c")
    assert "LINGUA_MAX_WATCHERS" in refused.value.message
    hub.leave(first)
    hub.watch("c")


async def test_a_redis_that_forgot_the_script_still_marks_the_job(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    await redis_client.script_flush()  # as after a restart
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["created"]
    assert await redis_client.hget(keys.job("j1"), "watched") == b"1"


async def test_the_terminal_event_reaches_watchers_with_the_final_record(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    await assign(lua, keys, "j1", "n1", 1)
    hub = hub_on(redis_client, lua, keys)
    watcher = hub.watch("j1")
    await hub.read_once()
    await watcher.next()
    await finish(lua, keys, "j1")
    hub.announced("j1")
    await hub.read_once()
    update = await watcher.next()
    assert [e.kind for e in update.events] == ["completed"]
    assert update.record.state.value == "completed"


async def test_a_job_created_again_after_a_loss_is_marked_again(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    await hub.check_loss_once()
    watcher = hub.watch("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["created"]
    sentinels = [k async for k in redis_client.scan_iter(match=keys.watch_sentinel("*"))]
    for key in (*sentinels, keys.job("j1"), keys.job_events("j1")):
        await redis_client.delete(key)
    await create(lua, keys, "j1")  # its gateway creates it again under the same id
    assert await hub.check_loss_once()
    await hub.read_once()
    assert await kinds(watcher) == ["created"]  # the watch resumes with the new job
    assert await redis_client.hget(keys.job("j1"), "watched") == b"1"  # announced again
    await assign(lua, keys, "j1", "n1", 1)
    hub.announced("j1")
    await hub.read_once()
    assert await kinds(watcher) == ["dispatched"]


async def test_a_watcher_whose_caller_may_not_see_the_job_ends_as_if_it_did_not_exist(
    redis_client: RedisClient, lua: LuaScripts, keys: Keys
) -> None:
    """Tenant scoping in the hub: the same read serves the job's own tenant and ends
    another tenant's watch with the NOT_FOUND a missing job gets, on its first read."""
    await create(lua, keys, "j1")
    hub = hub_on(redis_client, lua, keys)
    own = hub.watch("j1", lambda record: True)
    other = hub.watch("j1", lambda record: False)
    missing = hub.watch("no-such-job")
    assert await hub.read_once() == 2
    assert await kinds(own) == ["created"]
    with pytest.raises(JobNotFound) as hidden:
        await other.next()
    with pytest.raises(JobNotFound) as gone:
        await missing.next()
    assert str(hidden.value).replace("j1", "X") == str(gone.value).replace("no-such-job", "X")
    await assign(lua, keys, "j1", "n1", 1)
    hub.announced("j1")
    await hub.read_once()
    assert await kinds(own) == ["dispatched"]
    with pytest.raises(JobNotFound):  # nothing was handed to the other one after its end
        await other.next()
    for watcher in (own, other, missing):
        hub.leave(watcher)


async def test_a_subscription_renewed_by_a_reconnect_of_redis_py_reads_every_job_again(
    single_redis_settings: RedisSettings,
) -> None:
    # redis-py reconnects a dropped pub/sub connection and subscribes again on its own,
    # silently: what was announced in between is lost, and the server may be a new,
    # empty one. The hub hears of it from the second subscription confirmation.
    client = connect(single_redis_settings)
    killer = connect(single_redis_settings)
    keys = Keys(single_redis_settings.key_prefix)
    lua = LuaScripts(client)
    hub = WatchHub(
        RedisWatchStore(client, lua, keys),
        WatchSettings(loss_check_s=3600.0, sweep_s=3600.0),  # only the subscription
    )
    running = asyncio.create_task(hub.run())
    try:
        await create(lua, keys, "j1")
        watcher = hub.watch("j1")
        assert await kinds(watcher) == ["created"]
        await eventually(lambda: _subscribed(killer))  # the hub's subscription is in place
        await client.delete(keys.job("j1"), keys.job_events("j1"))  # lost, unannounced
        assert await killer.client_kill_filter(_type="pubsub") == 1
        with pytest.raises(JobNotFound):
            await asyncio.wait_for(watcher.next(), 10.0)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await killer.aclose()
        await client.aclose()


async def _subscribed(client: RedisClient) -> bool:
    return bool(await client.pubsub_numpat())
