"""Lines of jobs waiting for capacity, leased to one dispatcher at a time (server and
cluster): a replica that dies holding a waiting job does not lose it."""

from __future__ import annotations

import pytest

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher.pending import PendingQueues

NOW = 1_700_000_000_000
LEASE = 3_000
LIMIT = 10


@pytest.fixture
def queues(redis_client: RedisClient, lua: LuaScripts, keys: Keys) -> PendingQueues:
    return PendingQueues(redis_client, lua, keys)


async def line(redis_client: RedisClient, keys: Keys) -> list[str]:
    members = await redis_client.zrange(keys.pending("zh", "en"), 0, -1)
    return [m.decode() for m in members]


async def leases(redis_client: RedisClient, keys: Keys) -> dict[str, int]:
    members = await redis_client.zrange(keys.pending_leases("zh", "en"), 0, -1, withscores=True)
    return {m.decode(): int(score) for m, score in members}


async def test_jobs_are_taken_oldest_first_and_each_by_one_taker(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    for i, job in enumerate(["j1", "j2", "j3"]):
        assert await queues.enqueue("zh", "en", job, NOW + i, LIMIT)
    first = await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE)
    second = await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE)
    assert first is not None and second is not None
    assert (first.job_id, first.since_ms, first.lease_end_ms) == ("j1", NOW, NOW + LEASE)
    assert second.job_id == "j2"
    assert await line(redis_client, keys) == ["j3"]
    assert await leases(redis_client, keys) == {
        f"{NOW}:j1": NOW + LEASE,
        f"{NOW + 1}:j2": NOW + LEASE,
    }
    assert await queues.depth("zh", "en") == 3  # taken jobs still wait until placed


async def test_a_job_put_back_keeps_its_place_and_a_placed_one_leaves(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    await queues.enqueue("zh", "en", "old", NOW, LIMIT)
    await queues.enqueue("zh", "en", "new", NOW + 50, LIMIT)
    old = await queues.take("zh", "en", now_ms=NOW + 100, lease_ms=LEASE)
    new = await queues.take("zh", "en", now_ms=NOW + 100, lease_ms=LEASE)
    assert old is not None and new is not None
    assert await queues.done("zh", "en", new)
    assert await queues.put_back("zh", "en", old)
    assert await line(redis_client, keys) == ["old"]
    assert await redis_client.zscore(keys.pending("zh", "en"), "old") == NOW
    assert await leases(redis_client, keys) == {}
    assert await queues.depth("zh", "en") == 1


async def test_the_job_of_a_taker_that_died_is_back_in_line_at_its_place_once_the_lease_ends(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    await queues.enqueue("zh", "en", "orphan", NOW, LIMIT)
    await queues.enqueue("zh", "en", "later", NOW + 10, LIMIT)
    dead = await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE)  # its taker dies
    assert dead is not None and dead.job_id == "orphan"
    still_held = await queues.take("zh", "en", now_ms=NOW + LEASE - 1, lease_ms=LEASE)
    assert still_held is not None and still_held.job_id == "later"
    await queues.put_back("zh", "en", still_held)
    again = await queues.take("zh", "en", now_ms=NOW + LEASE, lease_ms=LEASE)
    assert again is not None
    assert (again.job_id, again.since_ms) == ("orphan", NOW)  # first in line, as before
    assert again.lease_end_ms == NOW + 2 * LEASE


async def test_a_late_return_by_a_taker_presumed_dead_changes_nothing(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    await queues.enqueue("zh", "en", "j", NOW, LIMIT)
    slow = await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE)
    fresh = await queues.take("zh", "en", now_ms=NOW + LEASE + 5, lease_ms=LEASE)
    assert slow is not None and fresh is not None and fresh.job_id == "j"
    assert not await queues.put_back("zh", "en", slow)  # would duplicate the job
    assert not await queues.done("zh", "en", slow)  # would end the fresh lease
    assert await line(redis_client, keys) == []
    assert await leases(redis_client, keys) == {f"{NOW}:j": NOW + 2 * LEASE + 5}
    assert await queues.done("zh", "en", fresh)
    assert await queues.depth("zh", "en") == 0


async def test_the_line_is_bounded_counting_taken_jobs_and_a_job_in_line_keeps_its_place(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    assert await queues.enqueue("zh", "en", "a", NOW, 2)
    assert await queues.enqueue("zh", "en", "a", NOW + 99, 2)  # already in line
    assert await redis_client.zscore(keys.pending("zh", "en"), "a") == NOW
    assert await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE) is not None
    assert await queues.enqueue("zh", "en", "b", NOW, 2)
    assert not await queues.enqueue("zh", "en", "c", NOW, 2)  # "a" is taken, still counts
    assert await line(redis_client, keys) == ["b"]


async def test_a_pair_is_forgotten_only_when_nothing_of_it_waits(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    await queues.enqueue("zh", "en", "j", NOW, LIMIT)
    assert await queues.pairs() == [("zh", "en")]
    taken = await queues.take("zh", "en", now_ms=NOW, lease_ms=LEASE)
    assert taken is not None
    assert not await queues.forget_pair_if_empty("zh", "en")  # taken, not yet placed
    assert await queues.pairs() == [("zh", "en")]
    await queues.done("zh", "en", taken)
    assert await queues.forget_pair_if_empty("zh", "en")
    assert await queues.pairs() == []
    assert await redis_client.exists(keys.pending("zh", "en"), keys.pending_leases("zh", "en")) == 0


async def test_a_dropped_job_leaves_the_line(
    queues: PendingQueues, redis_client: RedisClient, keys: Keys
) -> None:
    await queues.enqueue("zh", "en", "gone", NOW, LIMIT)
    await queues.enqueue("zh", "en", "stays", NOW + 1, LIMIT)
    await queues.drop("zh", "en", "gone")
    assert await line(redis_client, keys) == ["stays"]
