"""The job scripts through their store, with typed replies, on a real server and a real
cluster: creation once per request (with its first attempt in the same step), the
fenced transitions, and the pipelined finish."""

from __future__ import annotations

import asyncio

import pytest

from lingua.common.v1 import job_pb2
from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher.model import Connection, JobRef, JobState, Reservation
from services.dispatcher.store import (
    FirstAttempt,
    RedisJobStore,
    RequestIdClashError,
    timeout_bucket,
)
from tests.redis.jobs import new_job

NOW = 1_700_000_000_000
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
N1, N2, N3 = Connection("n1", 7), Connection("n2", 1), Connection("n3", 1)


@pytest.fixture
def store(redis_client: RedisClient, lua: LuaScripts, keys: Keys) -> RedisJobStore:
    return RedisJobStore(redis_client, lua, keys, live_ttl_ms=3_600_000, retention_ms=600_000)


async def kinds(redis_client: RedisClient, keys: Keys, job: str) -> list[bytes]:
    return [fields[b"kind"] for _, fields in await redis_client.xrange(keys.job_events(job))]


async def create(store: RedisJobStore, job: str = "j1", first: FirstAttempt | None = None) -> bool:
    created = await store.create(
        new_job(job, utterance_index=3, trace_parent=TRACEPARENT),
        now_ms=NOW,
        due_ms=NOW + 3000,
        first=first,
    )
    return created.created


async def assign(store: RedisJobStore, node: Connection, attempt: int, job: str = "j1") -> bool:
    return await store.assign(job, node, attempt, now_ms=NOW, due_ms=NOW + 3000, pool_id="zh:en#0")


async def abandon(
    store: RedisJobStore,
    node: str,
    attempt: int,
    *,
    counts: bool = True,
    only_if_due: bool = False,
    now: int = NOW + 10,
):  # type: ignore[no-untyped-def]
    return await store.abandon(
        "j1",
        now_ms=now,
        node_id=node,
        attempt=attempt,
        reason="JOB_TIMEOUT",
        only_if_due=only_if_due,
        pending_due_ms=now + 10_000,
        counts=counts,
    )


async def finish(store: RedisJobStore, node: str, attempt: int):  # type: ignore[no-untyped-def]
    finished, _ = await store.finish_and_release(
        "j1",
        JobState.COMPLETED,
        now_ms=NOW + 5,
        node_id=node,
        attempt=attempt,
        result=job_pb2.JobResult(success=True, text_translated="hi").SerializeToString(),
        error_code="",
        error_message="",
        follow_up_due_ms=NOW + 5_005,
    )
    return finished


async def test_concurrent_creators_of_one_request_get_one_job(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    results = await asyncio.gather(*(create(store) for _ in range(20)))
    assert results.count(True) == 1
    assert await kinds(redis_client, keys, "j1") == [b"created"]
    # Armed and indexed with the creation, in the same round trip.
    assert await redis_client.zscore(keys.timeouts(timeout_bucket("j1")), "j1") == NOW + 3000
    assert await redis_client.zscore(keys.jobs_recent(), "j1") == NOW
    assert await redis_client.zscore(keys.session_jobs("s1"), "j1") == 3


async def test_a_job_created_on_a_reserved_node_is_dispatched_in_the_same_step(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    created = await store.create(
        new_job("j1"), now_ms=NOW, due_ms=NOW + 3000, first=FirstAttempt("n1", 7, "zh:en#0")
    )
    assert (created.created, created.state, created.node_id, created.attempt) == (
        True,
        JobState.DISPATCHED,
        "n1",
        1,
    )
    record = await store.get("j1")
    assert record is not None
    assert (record.state, record.node_id, record.node_epoch, record.attempt, record.due_ms) == (
        JobState.DISPATCHED,
        "n1",
        7,
        1,
        NOW + 3000,
    )
    assert record.ref == JobRef("j1", "s1", 0, "trace-j1", "gw-a")
    assert await kinds(redis_client, keys, "j1") == [b"created", b"dispatched"]
    # The same request again finds it as it stands (and would give back its own slot).
    again = await store.create(new_job("j1"), now_ms=NOW, due_ms=NOW + 3000, first=None)
    assert (again.created, again.state, again.node_id, again.attempt) == (
        False,
        JobState.DISPATCHED,
        "n1",
        1,
    )


async def test_the_record_keeps_the_trace_of_its_creation(store: RedisJobStore) -> None:
    await create(store)
    record = await store.get("j1")
    assert record is not None and record.trace_parent == TRACEPARENT


async def test_a_different_request_on_the_same_job_id_is_refused(store: RedisJobStore) -> None:
    await create(store)
    with pytest.raises(RequestIdClashError):
        await store.create(
            new_job("j1", request_id="another"), now_ms=NOW, due_ms=NOW + 1, first=None
        )


async def test_assign_accepts_only_the_next_attempt_of_an_unassigned_job(
    store: RedisJobStore,
) -> None:
    await create(store)
    assert not await assign(store, N1, 2)
    assert await assign(store, N1, 1)
    assert not await assign(store, N2, 2)  # running on n1: no second attempt
    assert not await assign(store, N2, 1)  # an older copy cannot overwrite
    record = await store.get("j1")
    assert record is not None
    assert (record.node_id, record.node_epoch, record.attempt, record.state, record.due_ms) == (
        "n1",
        7,
        1,
        JobState.DISPATCHED,
        NOW + 3000,
    )


async def test_confirm_moves_the_deadline_once_and_only_for_the_live_attempt(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    await create(store)
    await assign(store, N1, 1)
    stale = await store.confirm("j1", "n2", 1, now_ms=NOW, due_ms=NOW + 15_000, what="delivered")
    assert stale is None
    await redis_client.zadd(keys.timeouts(timeout_bucket("j2")), {"j2": NOW})
    [first] = await store.confirm_and_disarm(
        [("j1", "n1", 1)], ["j2"], now_ms=NOW, due_ms=NOW + 15_000
    )
    assert await redis_client.zscore(keys.timeouts(timeout_bucket("j2")), "j2") is None
    assert first is not None and (first.due_ms, first.first) == (NOW + 15_000, True)
    assert first.ref == JobRef("j1", "s1", 3, "trace-j1", "gw-a")
    # A later sign of life neither extends the deadline again nor resets it.
    later = await store.confirm("j1", "n1", 0, now_ms=NOW, due_ms=NOW + 99_000, what="accepted")
    assert later is not None and (later.due_ms, later.first) == (NOW + 15_000, False)
    assert await redis_client.hget(keys.job("j1"), "state") == b"accepted"
    assert await kinds(redis_client, keys, "j1") == [b"created", b"dispatched", b"accepted"]


async def test_finish_is_fenced_by_node_and_attempt_and_happens_once(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    await create(store)
    await assign(store, N1, 1)
    abandoned = await abandon(store, "n1", 1)
    assert abandoned is not None and abandoned.retry
    await assign(store, N2, 2)
    assert await finish(store, "n1", 1) is None
    finished = await finish(store, "n2", 2)
    assert finished is not None
    assert (finished.ref, finished.node_id, finished.attempt, finished.dispatched_ms) == (
        JobRef("j1", "s1", 3, "trace-j1", "gw-a"),
        "n2",
        2,
        NOW,
    )
    assert await finish(store, "n2", 2) is None
    record = await redis_client.hgetall(keys.job("j1"))
    assert record[b"state"] == b"completed"
    assert b"spec" not in record  # the audio is dropped once the job is terminal
    assert 0 < await redis_client.pttl(keys.job("j1")) <= 600_000
    assert (await kinds(redis_client, keys, "j1"))[-1] == b"completed"


async def test_finish_and_release_frees_the_attempts_slot_and_arms_the_follow_up(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    await redis_client.hset(keys.node("n1"), mapping={"status": "ready", "max_jobs": 2})
    assert (await store.reserve("n1", "j1", 1, NOW)).outcome is Reservation.RESERVED
    await create(store, first=FirstAttempt("n1", 7, "p"))
    bucket = keys.timeouts(timeout_bucket("j1"))
    await redis_client.zadd(bucket, {"j1": NOW + 15_000})
    assert await finish(store, "n1", 1) is not None
    assert await redis_client.hlen(keys.node_inflight("n1")) == 0
    # The timer now brings a replica back soon, should the answer not be acknowledged.
    assert await redis_client.zscore(bucket, "j1") == NOW + 5_005
    # A repeat neither frees anything nor moves the timer later.
    await redis_client.zadd(bucket, {"j1": NOW + 1})
    assert await finish(store, "n1", 1) is None
    assert await redis_client.zscore(bucket, "j1") == NOW + 1


async def test_finish_of_an_unknown_job_changes_nothing(store: RedisJobStore) -> None:
    assert await finish(store, "n1", 1) is None
    assert await store.get("j1") is None


async def test_an_abandoned_attempt_is_refused_and_its_node_connection_excluded(
    store: RedisJobStore,
) -> None:
    await create(store)
    await assign(store, N1, 1)
    abandoned = await abandon(store, "n1", 1)
    assert abandoned is not None
    assert (abandoned.retry, abandoned.node_id, abandoned.attempt, abandoned.next_attempt) == (
        True,
        "n1",
        1,
        2,
    )
    assert abandoned.excluded == (N1,)  # node n1 under epoch 7, not n1 for good
    record = await store.get("j1")
    assert record is not None
    assert (record.state, record.node_id, record.excluded) == (JobState.PENDING, "", (N1,))
    # The late result of the abandoned attempt changes nothing.
    assert await finish(store, "n1", 1) is None
    assert await abandon(store, "n1", 1) is None


async def test_the_last_attempt_fails_the_job_for_good(store: RedisJobStore) -> None:
    await create(store)
    for attempt, node in enumerate([N1, N2], start=1):
        await assign(store, node, attempt)
        assert (await abandon(store, node.node_id, attempt)).retry  # type: ignore[union-attr]
    await assign(store, N3, 3)
    failed = await abandon(store, "n3", 3)
    assert failed is not None and not failed.retry
    assert failed.ref == JobRef("j1", "s1", 3, "trace-j1", "gw-a")
    record = await store.get("j1")
    assert record is not None
    assert (record.state, record.error_code) == (JobState.FAILED, "JOB_TIMEOUT")
    assert record.excluded == (N1, N2, N3)


async def test_an_undelivered_attempt_does_not_use_up_an_attempt(store: RedisJobStore) -> None:
    await create(store)
    for _ in range(5):  # more than max_attempts: none of them reached a node
        assert await assign(store, N1, 1)
        abandoned = await abandon(store, "n1", 1, counts=False)
        assert abandoned is not None and (abandoned.attempt, abandoned.next_attempt) == (1, 1)
    record = await store.get("j1")
    assert record is not None and (record.attempt, record.state) == (0, JobState.PENDING)


async def test_abandon_if_due_respects_the_deadline(store: RedisJobStore) -> None:
    await create(store)
    await assign(store, N1, 1)  # due at NOW + 3000
    assert await abandon(store, "", 0, only_if_due=True, now=NOW + 2999) is None
    late = await abandon(store, "", 0, only_if_due=True, now=NOW + 3000)
    assert late is not None and late.retry


async def test_ending_a_waiting_job_arms_its_follow_up_and_tells_who_to_answer(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    await create(store)
    await store.schedule("j1", NOW + 10_000)  # its wait for a slot
    assert await store.pend("j1", now_ms=NOW, due_ms=NOW + 10_000)
    ended = await store.finish(
        "j1",
        JobState.FAILED,
        now_ms=NOW + 1,
        follow_up_due_ms=NOW + 5_001,
        error_code="NO_AVAILABLE_NODE",
        error_message="no node available for zh->en",
    )
    assert ended is not None and ended.ref.gateway_id == "gw-a" and ended.node_id == ""
    # Lowered to the follow-up (never raised: see the finish test above).
    assert await redis_client.zscore(keys.timeouts(timeout_bucket("j1")), "j1") == NOW + 5_001
    assert (
        await store.finish("j1", JobState.CANCELLED, now_ms=NOW + 2, follow_up_due_ms=NOW + 9)
        is None
    )


async def test_a_tenants_jobs_are_indexed_with_their_creation_and_kept_within_retention(
    store: RedisJobStore, redis_client: RedisClient, keys: Keys
) -> None:
    """The team API's ListJobs reads a tenant's own index (tenancy): written in the
    creation's round trip, newest first, trimmed to the retention as jobs are added, and
    gone a retention after the tenant's last job."""

    async def created(job: str, tenant: str, at: int) -> None:
        record = new_job(job, tenant_id=tenant, session_id="")
        await store.create(record, now_ms=at, due_ms=at + 3000, first=None)

    await created("old", "acme", NOW - 700_000)  # older than the retention (600 s)
    await created("a1", "acme", NOW)
    await created("g1", "globex", NOW + 1)
    await created("a2", "acme", NOW + 2)
    await created("none", "", NOW + 3)  # no tenant: no tenant index
    assert await store.tenant_job_ids("acme", 2**62, 10) == [("a2", NOW + 2), ("a1", NOW)]
    assert await store.tenant_job_ids("acme", NOW + 2, 10) == [("a1", NOW)]  # the next page
    assert await store.tenant_job_ids("globex", 2**62, 10) == [("g1", NOW + 1)]
    ttl = await redis_client.pttl(keys.tenant_jobs("acme"))
    assert 0 < ttl <= 600_000
    assert keys.tenant_jobs("acme").count("{") == 1  # one hash tag: one slot per tenant
