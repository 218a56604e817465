"""The lifecycle owner's transitions one by one, and every crash point between a
transition and its follow-up, on a real server and a real 3-master cluster.

A crash is the transition alone (its store call, as the dying replica made it) with no
follow-up; then another replica's sweeps, driven by the manual clock, must finish what
it left: the slot freed once, the session told (once it acknowledges, the timer is
disarmed), the job placed again when it needs a node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua_common.ids import job_id_for
from lingua_common.settings import RedisSettings
from services.dispatcher.lost_connections import LostConnections
from services.dispatcher.model import Connection, JobRef, JobState, Reservation
from services.dispatcher.placement import Outcome, Ticket
from services.dispatcher.store import FirstAttempt, NewJobRecord
from tests.services.dispatcher_rig import (
    NODE_GATEWAY,
    SESSION_GATEWAY,
    Rig,
    dispatcher_rig,
    result,
    spec,
)

RESERVATION_MS = 3_000
JOB_TIMEOUT_MS = 15_000
ANSWER_RETRY_MS = 5_000


@pytest.fixture
async def rig(redis_settings: RedisSettings) -> AsyncIterator[Rig]:
    async with dispatcher_rig(
        redis_settings,
        reservation_ttl_ms=RESERVATION_MS,
        job_timeout_ms=JOB_TIMEOUT_MS,
        answer_retry_ms=ANSWER_RETRY_MS,
    ) as running:
        yield running


async def new_job(rig: Rig, index: int = 0) -> str:
    admission = await rig.intake.new_job(f"s1:{index}:en", spec(index), SESSION_GATEWAY)
    return admission.job_id


def outcomes(items: list) -> list[link_pb.DispatcherMessage]:  # type: ignore[type-arg]
    return [i.message for i in items if i.message.to_session.HasField("outcome")]


def events(items: list) -> list[str]:  # type: ignore[type-arg]
    return [
        i.message.to_session.ui_event.event
        for i in items
        if i.message.to_session.HasField("ui_event")
    ]


# --- transitions, one by one ---------------------------------------------------------------


async def test_create_places_the_first_attempt_in_the_same_step(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    record = await rig.record(job_id)
    assert (record.state, record.node_id, record.node_epoch, record.attempt) == (
        JobState.DISPATCHED,
        "n1",
        1,
        1,
    )
    assert await rig.running("n1") == 1
    [assign] = rig.assignments()
    delivery = assign.message.to_node
    assert (delivery.node_id, delivery.epoch, delivery.job_assign.attempt_id) == ("n1", 1, 1)
    assert events(rig.sent(SESSION_GATEWAY)) == ["DISPATCHED"]
    # The node's gateway took the job_assign: the deadline moves to the result's.
    assert record.due_ms == rig.clock.now_ms() + RESERVATION_MS
    await rig.acknowledge([assign])
    assert (await rig.record(job_id)).due_ms == rig.clock.now_ms() + JOB_TIMEOUT_MS


async def test_a_repeated_request_finds_its_job_and_gives_back_the_slot_it_took(rig: Rig) -> None:
    await rig.node("n1", max_jobs=4)
    first = await rig.intake.new_job("r1", spec(), SESSION_GATEWAY)
    again = await rig.intake.new_job("r1", spec(), SESSION_GATEWAY)
    assert first.created and not again.created and first.job_id == again.job_id
    assert await rig.running("n1") == 1  # one slot, not two
    assert len(rig.assignments()) == 1


async def test_concurrent_creators_of_one_request_leave_exactly_the_jobs_slot(rig: Rig) -> None:
    await rig.node("n1", max_jobs=4)
    await rig.node("n2", max_jobs=4)
    admissions = await asyncio.gather(
        *(rig.intake.new_job("same", spec(), SESSION_GATEWAY) for _ in range(10))
    )
    assert sum(a.created for a in admissions) == 1
    job = await rig.record(admissions[0].job_id)
    # The job's own slot stays; every other creator's is given back (or, for a creator
    # that found the job not placed yet, left to the audit).
    await rig.audit.audit_once()
    await rig.audit.audit_once()
    assert (await rig.running(job.node_id), await rig.running("n1") + await rig.running("n2")) == (
        1,
        1,
    )
    assert len(rig.assignments()) == 1


async def test_finish_frees_the_slot_tells_the_session_and_disarms_once_acknowledged(
    rig: Rig,
) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    await rig.acknowledge(rig.assignments())
    rig.sent(SESSION_GATEWAY)
    assert await rig.reports.result(job_id, "n1", 1, result("ni hao"))
    assert await rig.running("n1") == 0
    told = rig.sent(SESSION_GATEWAY)
    [answer] = outcomes(told)
    assert answer.to_session.outcome.result.text_translated == "NI HAO"
    assert answer.to_session.job.utterance_index == 0
    # Armed until the session's gateway has the answer (never later than the follow-up
    # time); then disarmed.
    armed = await rig.timer(job_id)
    assert armed is not None and armed <= rig.clock.now_ms() + ANSWER_RETRY_MS
    await rig.acknowledge(told)
    assert await rig.timer(job_id) is None
    assert (await rig.record(job_id)).state is JobState.COMPLETED


async def test_a_result_from_a_superseded_attempt_changes_nothing(rig: Rig) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = await new_job(rig)
    first = (await rig.record(job_id)).node_id
    await rig.recovery.give_up(await rig.record(job_id), "JOB_TIMEOUT", only_if_due=False)
    second = await rig.record(job_id)
    assert (second.attempt, second.node_id != first) == (2, True)
    assert not await rig.reports.result(job_id, first, 1, result("late"))
    assert await rig.running(first) == 0 and await rig.running(second.node_id) == 1
    assert outcomes(rig.sent(SESSION_GATEWAY)) == []


async def test_a_late_result_of_an_attempt_given_up_is_refused_while_the_retry_waits(
    rig: Rig,
) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    now = rig.clock.now_ms()
    abandoned = await rig.store.abandon(
        job_id, now_ms=now, node_id="n1", attempt=1, reason="JOB_TIMEOUT",
        only_if_due=False, pending_due_ms=now + RESERVATION_MS,
    )  # fmt: skip
    assert abandoned is not None and abandoned.retry  # its retry not placed yet
    waiting = await rig.record(job_id)
    assert (waiting.state, waiting.attempt, waiting.node_id) == (JobState.PENDING, 1, "")
    assert not await rig.reports.result(job_id, "n1", 1, result("late"))
    assert (await rig.record(job_id)).state is JobState.PENDING


async def test_a_job_written_again_after_redis_lost_it_takes_the_result_of_its_first_run(
    rig: Rig,
) -> None:
    # No node in the index: the job a gateway writes again after the loss waits, never
    # placed (attempt 0); the node that ran it before the loss reports its result.
    job_id = await new_job(rig)
    assert (await rig.record(job_id)).state is JobState.PENDING
    rig.sent(SESSION_GATEWAY)
    assert await rig.reports.result(job_id, "n1", 1, result("before the loss"))
    done = await rig.record(job_id)
    assert (done.state, done.node_id, done.attempt) == (JobState.COMPLETED, "n1", 1)
    [answer] = outcomes(rig.sent(SESSION_GATEWAY))
    assert answer.to_session.outcome.result.text_translated == "BEFORE THE LOSS"
    await rig.node("n2")
    rig.waiting.slot_freed("n2")
    await rig.waiting.settled(5.0)
    assert rig.assignments() == []  # never placed after it finished


async def test_end_cancels_frees_the_slot_stops_the_node_and_tells_the_session(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    rig.sent(NODE_GATEWAY)
    rig.sent(SESSION_GATEWAY)
    assert await rig.lifecycle.end(job_id, ("zh", "en"), JobState.CANCELLED, "JOB_CANCELLED", "x")
    assert await rig.running("n1") == 0
    [cancel] = rig.sent(NODE_GATEWAY)
    assert cancel.message.to_node.job_cancel.job_id == job_id
    [answer] = outcomes(rig.sent(SESSION_GATEWAY))
    assert answer.to_session.outcome.error.code == "JOB_CANCELLED"
    assert not await rig.lifecycle.end(job_id, ("zh", "en"), JobState.FAILED, "X", "again")


async def test_abandon_frees_the_slot_stops_the_node_and_the_retry_runs_elsewhere(
    rig: Rig,
) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = await new_job(rig)
    first = await rig.record(job_id)
    rig.sent(NODE_GATEWAY)
    assert await rig.sweep_after(RESERVATION_MS) == 1  # never confirmed: given up
    retried = await rig.record(job_id)
    assert (retried.attempt, retried.state) == (2, JobState.DISPATCHED)
    assert retried.node_id != first.node_id
    assert retried.excluded == (Connection(first.node_id, 1),)
    assert await rig.running(first.node_id) == 0
    sent = rig.sent(NODE_GATEWAY)
    assert [
        i.message.to_node.job_cancel.job_id
        for i in sent
        if i.message.to_node.HasField("job_cancel")
    ] == [job_id]
    assert [
        i.message.to_node.job_assign.attempt_id
        for i in sent
        if i.message.to_node.HasField("job_assign")
    ] == [2]


async def test_an_undelivered_assignment_is_placed_again_under_the_same_attempt(rig: Rig) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = await new_job(rig)
    first = await rig.record(job_id)
    await rig.reports.undeliverable(job_id, first.node_id, 1)
    again = await rig.record(job_id)
    assert (again.attempt, again.state) == (1, JobState.DISPATCHED)
    assert again.node_id != first.node_id
    assert await rig.running(first.node_id) == 0


async def test_a_failed_node_is_excluded_per_connection_not_forever(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    # Its socket closed before the job_assign was written: the gateway says so twice.
    rig.owners.lost(NODE_GATEWAY, "n1", 1)
    await rig.reports.undeliverable(job_id, "n1", 1)
    waiting = await rig.record(job_id)
    assert (waiting.state, waiting.excluded) == (JobState.PENDING, (Connection("n1", 1),))
    rig.sent(NODE_GATEWAY)
    # The node registers again (a new epoch): the same job may run there now.
    rig.reconnected("n1", epoch=2)
    rig.waiting.slot_freed("n1")
    await rig.waiting.settled(5.0)
    placed = await rig.record(job_id)
    assert (placed.state, placed.node_id, placed.node_epoch) == (JobState.DISPATCHED, "n1", 2)
    [assign] = rig.assignments()
    assert assign.message.to_node.epoch == 2


async def test_pend_waits_in_line_and_a_freed_slot_places_it(rig: Rig) -> None:
    await rig.node("n1", max_jobs=1)
    running = await new_job(rig, 0)
    waiting = await new_job(rig, 1)
    assert (await rig.record(waiting)).state is JobState.PENDING
    assert await rig.queues.holds("zh", "en", waiting)
    await rig.reports.result(running, "n1", 1, result())  # the freed slot drains the line
    await rig.waiting.settled(5.0)
    assert (await rig.record(waiting)).state is JobState.DISPATCHED
    assert not await rig.queues.holds("zh", "en", waiting)


async def test_confirm_of_progress_tells_the_session_and_a_stale_one_does_not(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    rig.sent(SESSION_GATEWAY)
    assert await rig.reports.progress(job_id, "n1", 0, "partial", "ni", False)
    assert await rig.reports.progress(job_id, "n1", 1, "accepted")
    assert not await rig.reports.progress(job_id, "n2", 1, "accepted")
    told = rig.sent(SESSION_GATEWAY)
    assert [
        i.message.to_session.asr_partial.text
        for i in told
        if i.message.to_session.HasField("asr_partial")
    ] == ["ni"]
    assert events(told) == ["NODE_ACCEPTED"]
    assert (await rig.record(job_id)).state is JobState.ACCEPTED


# --- crash points: the transition happened, its follow-up did not -----------------------------


async def test_crash_after_reserve_before_create_the_audit_frees_the_slot(rig: Rig) -> None:
    await rig.node("n1")
    reserved = await rig.lifecycle.reserve("n1", job_id_for("never"), 1)
    assert reserved.outcome is Reservation.RESERVED
    assert await rig.audit.audit_once() == 0  # a first look only suspects it
    assert await rig.audit.audit_once() == 1
    assert await rig.running("n1") == 0


async def test_crash_after_create_before_the_assignment_left_it_is_placed_again(rig: Rig) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = job_id_for("r1")
    assert (await rig.lifecycle.reserve("n1", job_id, 1)).outcome is Reservation.RESERVED
    record = NewJobRecord(
        job_id, "r1", spec().SerializeToString(), "t1", "s1", 0, "zh", "en", "", SESSION_GATEWAY, 3
    )
    now = rig.clock.now_ms()
    created = await rig.store.create(
        record, now_ms=now, due_ms=now + RESERVATION_MS, first=FirstAttempt("n1", 1, "p")
    )
    assert created.created  # ...and the replica died: no job_assign went out
    assert rig.assignments() == []
    await rig.sweep_after(RESERVATION_MS)
    retried = await rig.record(job_id)
    assert (retried.state, retried.attempt, retried.node_id) == (JobState.DISPATCHED, 2, "n2")
    assert await rig.running("n1") == 0
    assert [a.message.to_node.node_id for a in rig.assignments()] == ["n2"]


async def test_crash_after_assign_before_the_assignment_left_it_is_placed_again(rig: Rig) -> None:
    await rig.node("n1", max_jobs=1)
    busy = await new_job(rig, 0)
    job_id = await new_job(rig, 1)
    assert (await rig.record(job_id)).state is JobState.PENDING
    await rig.acknowledge(rig.assignments())  # the busy job's node has it
    await rig.node("n2")
    # A replica takes the waiting job to n2 (reserve, assign), then dies before sending it.
    assert (await rig.lifecycle.reserve("n2", job_id, 1)).outcome is Reservation.RESERVED
    now = rig.clock.now_ms()
    assert await rig.store.assign(
        job_id, Connection("n2", 1), 1, now_ms=now, due_ms=now + RESERVATION_MS, pool_id="p"
    )
    await rig.sweep_after(RESERVATION_MS)  # unconfirmed: the attempt is given up
    assert await rig.running("n2") == 0
    waiting = await rig.record(job_id)
    assert (waiting.state, waiting.excluded) == (JobState.PENDING, (Connection("n2", 1),))
    await rig.reports.result(busy, "n1", 1, result())  # the freed slot drains the line
    await rig.waiting.settled(5.0)
    placed = await rig.record(job_id)
    assert (placed.state, placed.node_id, placed.attempt) == (JobState.DISPATCHED, "n1", 2)


async def test_crash_after_finish_before_any_follow_up_the_timer_finishes_it(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    await rig.acknowledge(rig.assignments())
    rig.sent(SESSION_GATEWAY)
    # job_finish alone: no slot freed, nobody told.
    reply = await rig.store._lua.run(
        "job_finish",
        [rig.keys.job(job_id), rig.keys.job_events(job_id)],
        [
            rig.clock.now_ms(),
            "completed",
            "n1",
            1,
            result().SerializeToString(),
            "",
            "",
            60_000,
            "",
        ],
    )
    finished = int(reply[0]) == 1
    assert finished and await rig.running("n1") == 1
    await rig.sweep_after(JOB_TIMEOUT_MS)  # the job's own timer comes due
    assert await rig.running("n1") == 0
    told = rig.sent(SESSION_GATEWAY)
    assert len(outcomes(told)) == 1
    await rig.acknowledge(told)
    assert await rig.timer(job_id) is None
    assert await rig.sweep_after(JOB_TIMEOUT_MS) == 0  # nothing left to do


async def test_crash_after_finish_and_release_before_telling_the_timer_tells(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    await rig.acknowledge(rig.assignments())
    rig.sent(SESSION_GATEWAY)
    now = rig.clock.now_ms()
    finished, released = await rig.store.finish_and_release(
        job_id, JobState.COMPLETED, now_ms=now, node_id="n1", attempt=1,
        result=result("kept").SerializeToString(), error_code="", error_message="",
        follow_up_due_ms=now + ANSWER_RETRY_MS,
    )  # fmt: skip
    assert finished is not None and released
    await rig.sweep_after(ANSWER_RETRY_MS)
    [answer] = outcomes(rig.sent(SESSION_GATEWAY))
    assert answer.to_session.outcome.result.text_asr == "kept"


async def test_an_answer_never_acknowledged_is_told_again_until_the_jobs_deadline(
    rig: Rig,
) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    await rig.reports.result(job_id, "n1", 1, result())
    told = [len(outcomes(rig.sent(SESSION_GATEWAY)))]
    deadline = rig.settings.job_deadline_ms
    for _ in range(deadline // ANSWER_RETRY_MS + 2):
        await rig.sweep_after(ANSWER_RETRY_MS)  # the gateway is stalled: no ack
        told.append(len(outcomes(rig.sent(SESSION_GATEWAY))))
    assert sum(told) >= deadline // ANSWER_RETRY_MS - 1  # again and again...
    assert told[-1] == 0 and await rig.timer(job_id) is None  # ...until its deadline
    assert await rig.running("n1") == 0


async def test_crash_after_a_cancel_before_its_follow_up_the_timer_finishes_it(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    rig.sent(SESSION_GATEWAY)
    now = rig.clock.now_ms()
    await rig.store.finish(
        job_id, JobState.CANCELLED, now_ms=now, follow_up_due_ms=now + ANSWER_RETRY_MS,
        error_code="JOB_CANCELLED", error_message="stop",
    )  # fmt: skip
    await rig.sweep_after(ANSWER_RETRY_MS)
    assert await rig.running("n1") == 0
    [answer] = outcomes(rig.sent(SESSION_GATEWAY))
    assert answer.to_session.outcome.error.code == "JOB_CANCELLED"


async def test_crash_after_abandon_before_the_retry_it_is_placed_by_the_sweeper(rig: Rig) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = await new_job(rig)
    record = await rig.record(job_id)
    now = rig.clock.now_ms()
    abandoned = await rig.store.abandon(
        job_id, now_ms=now, node_id=record.node_id, attempt=1, reason="JOB_TIMEOUT",
        only_if_due=False, pending_due_ms=now + RESERVATION_MS,
    )  # fmt: skip
    assert abandoned is not None and abandoned.retry  # ...and the replica died
    await rig.sweep_after(RESERVATION_MS)
    resumed = await rig.record(job_id)
    assert (resumed.state, resumed.attempt) == (JobState.DISPATCHED, 2)
    assert resumed.node_id != record.node_id
    # The abandoned attempt's slot is found and freed by the audit.
    await rig.audit.audit_once()
    await rig.audit.audit_once()
    assert await rig.running(record.node_id) == 0


async def test_crash_after_pend_before_joining_the_line_it_is_placed_by_the_sweeper(
    rig: Rig,
) -> None:
    await rig.node("n1", max_jobs=1)
    busy = await new_job(rig, 0)
    ticket_spec = spec(1)
    job_id = job_id_for("s1:1:en")
    record = NewJobRecord(
        job_id, "s1:1:en", ticket_spec.SerializeToString(), "t", "s1", 1, "zh", "en", "",
        SESSION_GATEWAY, 3,
    )  # fmt: skip
    now = rig.clock.now_ms()
    await rig.store.create(record, now_ms=now, due_ms=now + RESERVATION_MS, first=None)
    await rig.store.schedule(job_id, now + 10_000)
    assert await rig.store.pend(job_id, now_ms=now, due_ms=now + 10_000)  # ...then died
    assert not await rig.queues.holds("zh", "en", job_id)
    await rig.reports.result(busy, "n1", 1, result())  # room now, but nobody knows of it
    await rig.sweep_after(10_000)
    assert (await rig.record(job_id)).state is JobState.DISPATCHED


async def test_a_node_whose_gateway_is_not_linked_here_gets_no_seat(rig: Rig) -> None:
    await rig.node("n1", gateway="gw-away")
    rig.owners.unlinked("gw-away")  # its link to this replica broke
    ticket = Ticket(JobRef(job_id_for("x"), "s1", 0, "t", SESSION_GATEWAY), spec())
    assert await rig.placer.seat(ticket, 1) is Outcome.NO_CAPACITY
    assert await rig.running("n1") == 0


# --- a node connection that ended ------------------------------------------------------------


def lost_connections(rig: Rig) -> LostConnections:
    return LostConnections(rig.recovery, grace_ms=0, wait_for_a_node_ms=10_000)


async def test_the_attempts_of_a_closed_socket_are_given_up_at_once_and_run_elsewhere(
    rig: Rig,
) -> None:
    await rig.node("n1")
    await rig.node("n2")
    job_id = await new_job(rig)
    first = await rig.record(job_id)
    rig.sent(NODE_GATEWAY)
    lost = lost_connections(rig)
    lost.lost(first.node_id, first.node_epoch + 1)  # another connection of it: nothing
    await lost.wait(5.0)
    assert (await rig.record(job_id)).attempt == 1
    lost.lost(first.node_id, first.node_epoch)
    await lost.wait(5.0)
    moved = await rig.record(job_id)
    assert (moved.state, moved.attempt) == (JobState.DISPATCHED, 2)
    assert moved.node_id != first.node_id
    assert await rig.running(first.node_id) == 0


async def test_a_node_registered_again_gives_up_what_its_old_connection_held_not_its_own(
    rig: Rig,
) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    rig.sent(NODE_GATEWAY)
    lost = lost_connections(rig)
    # Registered again on the same socket (epoch 2 since 1): the job still runs there.
    rig.reconnected("n1", epoch=2)
    lost.held("n1", 1)
    await lost.wait(5.0)
    assert (await rig.record(job_id)).attempt == 1
    # A new socket (its old gateway died, nobody said node_lost): the job runs again
    # on the new connection, which its exclusion (n1@1) does not name.
    rig.reconnected("n1", epoch=3)
    lost.held("n1", 3)
    await lost.wait(5.0)
    again = await rig.record(job_id)
    assert (again.state, again.node_id, again.attempt, again.node_epoch) == (
        JobState.DISPATCHED,
        "n1",
        2,
        3,
    )
    [assign] = rig.assignments()
    assert assign.message.to_node.epoch == 3


async def test_the_only_nodes_lost_job_waits_for_it_to_come_back(rig: Rig) -> None:
    await rig.node("n1")
    job_id = await new_job(rig)
    rig.sent(NODE_GATEWAY)
    rig.owners.lost(NODE_GATEWAY, "n1", 1)
    lost = lost_connections(rig)
    lost.lost("n1", 1)
    await lost.wait(5.0)
    waiting = await rig.record(job_id)
    assert waiting.state is JobState.PENDING  # not NODE_UNAVAILABLE: nobody else serves it
    rig.reconnected("n1", epoch=2)
    rig.waiting.slot_freed("n1")
    await rig.waiting.settled(5.0)
    placed = await rig.record(job_id)
    assert (placed.state, placed.node_epoch, placed.attempt) == (JobState.DISPATCHED, 2, 2)
