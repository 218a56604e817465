"""The chaos suite's bookkeeping and checks, on made-up reports: every invariant fails
on the one thing it guards (a check that cannot fail is a defect), the counts add up,
the recovery times come from the right answers."""

from __future__ import annotations

import dataclasses

import pytest

from tools.chaos.config import ChaosConfig
from tools.chaos.invariants import phase_checks
from tools.chaos.probe import UTTERANCES, ProbeResult
from tools.chaos.slots import NodeSlots, SlotReport
from tools.chaos.tally import AnswerLog, AnswerTime, Recovery, Tally, recovery, tally
from tools.fleet.answers import Answer, AnswerBook, ClientReport
from tools.fleet.payload import make_audio


def report(name: str, sent: int, answered: int, **fields: object) -> ClientReport:
    base = ClientReport(name=name, session_id=f"s-{name}", sent=sent, answered=answered)
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


A, B = "ws://a", "ws://b"


def test_tally_tells_cut_off_from_lost_and_counts_reconnects() -> None:
    runs = [
        (A, report("c0", sent=10, answered=10, correct=10)),
        # Its socket dropped with 2 outstanding: cut off, not lost.
        (A, report("c1", sent=6, answered=4, correct=4, connection_lost=True)),
        (B, report("c1-r1", sent=5, answered=5, correct=4, errors_by_code={"JOB_TIMEOUT": 1})),
        (A, report("c1-r2", sent=0, answered=0, init_error="CONNECT_FAILED: refused")),
        # Open to the end, one never answered, one answered three times.
        (B, report("c2", sent=8, answered=7, correct=7, duplicates=2, duplicated=1)),
    ]
    t = tally(runs, closed={A})
    assert (t.sessions, t.reconnects, t.connect_failures, t.sessions_dropped) == (4, 1, 1, 1)
    assert t.dropped_elsewhere == []
    assert (t.sent, t.cut_off, t.accepted, t.lost) == (29, 2, 27, 1)
    assert (t.answered, t.answered_once, t.translated) == (26, 25, 25)
    assert t.errors == {"JOB_TIMEOUT": 1}
    assert t.duplicates == 2
    assert t.open_failures == ["c1-r2: CONNECT_FAILED: refused"]
    # Had the fault not touched gateway A, both would be sessions lost for no reason.
    assert tally(runs).dropped_elsewhere == [
        "c1 on ws://a: socket dropped",
        "c1-r2 on ws://a: CONNECT_FAILED: refused",
    ]


def test_answer_book_counts_utterances_answered_more_than_once() -> None:
    book = AnswerBook("c", "en")
    book.session_id = "s"
    book.sent(0, make_audio("c", 0, 2), at=0.0)
    result = {"type": "missing_result", "session_id": "s", "utterance_index": 0}
    for at in (1.0, 2.0, 3.0):
        book.on_message(result, at)
    got = book.report()
    assert (got.answered, got.duplicates, got.duplicated) == (1, 2, 1)


def test_recovery_times_count_from_the_fault() -> None:
    answers = [
        AnswerTime(sent_at=9.0, at=9.3, translated=True, utterance="s #1: result"),
        AnswerTime(sent_at=9.8, at=12.0, translated=False, utterance="s #2: JOB_TIMEOUT"),
        AnswerTime(sent_at=9.9, at=13.5, translated=True, utterance="s #3: result"),
        AnswerTime(sent_at=11.0, at=14.0, translated=True, utterance="s #4: result"),
    ]
    got = recovery(answers, fault_at=10.0)
    # The first translation after the fault was sent before it; errors do not count.
    assert got.first_answer_s == pytest.approx(3.5)
    assert got.first_new_answer_s == pytest.approx(4.0)
    assert got.slowest_s == pytest.approx(3.6)
    assert got.slowest == "s #3: result"
    assert got.sent_after == 1


def test_recovery_is_none_when_nothing_was_translated_after_the_fault() -> None:
    got = recovery([AnswerTime(1.0, 2.0, True)], fault_at=5.0)
    assert (got.first_answer_s, got.first_new_answer_s) == (None, None)


def test_answer_log_stamps_when_the_answer_arrived() -> None:
    log = AnswerLog(clock=lambda: 50.0)
    log.record(
        Answer("c", "s", 3, "result", correct=True, latency_s=0.5, tgt_lang="en"),
    )
    log.record(
        Answer("c", "s", 4, "error", None, latency_s=2.0, tgt_lang="en", error_code="X"),
    )
    assert log.answers == [
        AnswerTime(49.5, 50.0, True, "s #3: result"),
        AnswerTime(48.0, 50.0, False, "s #4: X"),
    ]


# --- every check fails on what it guards -------------------------------------------------

GOOD_TALLY = Tally(
    sessions=4,
    reconnects=0,
    connect_failures=0,
    sent=40,
    cut_off=0,
    sessions_dropped=0,
    dropped_elsewhere=[],
    accepted=40,
    lost=0,
    answered=40,
    answered_once=40,
    translated=40,
    wrong=0,
    missing=0,
)
GOOD_RECOVERY = Recovery(0.1, 0.3, 0.5, "s #1: result", sent_after=20)
AGREEING = [NodeSlots("node-0", "n0", {"j1": 1}, {"j1": 1}), NodeSlots("node-1", "n1", {}, {})]
GOOD_SLOTS = SlotReport(AGREEING, AGREEING, settled_after_s=0.0)
GOOD_PROBE = ProbeResult(sessions=4, sent=4 * UTTERANCES, translated=4 * UTTERANCES, failures=[])


def failed(
    t: Tally = GOOD_TALLY,
    r: Recovery = GOOD_RECOVERY,
    slots: SlotReport = GOOD_SLOTS,
    probe: ProbeResult = GOOD_PROBE,
    dead: tuple[str, ...] = (),
) -> list[str]:
    checks = phase_checks(t, r, slots, probe, list(dead))
    return [check.name for check in checks if not check.ok]


def test_a_good_phase_passes_every_check() -> None:
    assert failed() == []


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        ({"lost": 1, "answered": 39, "answered_once": 39, "translated": 39},
         "every accepted utterance answered"),
        ({"duplicates": 1}, "answered exactly once"),
        ({"unexpected": 1}, "answered exactly once"),
        ({"translated": 39, "errors": {"NO_AVAILABLE_NODE": 1}}, "every answer a translation"),
        ({"translated": 39, "wrong": 1}, "every answer a translation"),
        ({"translated": 39, "missing": 1}, "every answer a translation"),
        ({"out_of_order": 1}, "answers in order"),
        ({"dropped_elsewhere": ["c1 on ws://b: socket dropped"]}, "sessions kept"),
        ({"protocol_violations": 1}, "messages follow PROTOCOL.md"),
    ],
)  # fmt: skip
def test_each_count_check_fails_on_its_own(broken: dict[str, object], check: str) -> None:
    assert failed(t=dataclasses.replace(GOOD_TALLY, **broken)) == [check]  # type: ignore[arg-type]


def test_a_phase_with_nothing_accepted_proves_nothing() -> None:
    empty = dataclasses.replace(
        GOOD_TALLY, sent=0, accepted=0, answered=0, answered_once=0, translated=0
    )
    assert "every accepted utterance answered" in failed(t=empty)


def test_sessions_dropped_where_the_fault_struck_are_cut_off_not_lost() -> None:
    dropped = dataclasses.replace(GOOD_TALLY, sessions_dropped=2, cut_off=3, accepted=37,
                                  answered=37, answered_once=37, translated=37)  # fmt: skip
    assert failed(t=dropped) == []


def test_a_slot_held_for_no_running_job_fails() -> None:
    leaked = [NodeSlots("node-0", "n0", {"j1": 1, "j2": 1}, {"j1": 1})]
    assert failed(slots=SlotReport(leaked, leaked, None)) == ["slots agree with jobs running"]
    overcommitted = [NodeSlots("node-0", "n0", {}, {"j1": 2})]
    report_ = SlotReport(overcommitted, overcommitted, None)
    assert failed(slots=report_) == ["slots agree with jobs running"]
    # The same job under another attempt is no agreement either.
    stale = [NodeSlots("node-0", "n0", {"j1": 1}, {"j1": 2})]
    assert failed(slots=SlotReport(stale, stale, None)) == ["slots agree with jobs running"]


def test_a_dead_service_fails() -> None:
    assert failed(dead=("pool",)) == ["stack whole again"]


def test_new_sessions_not_served_afterwards_fail() -> None:
    refused = dataclasses.replace(GOOD_PROBE, failures=["c: session not opened: TIMEOUT"])
    assert failed(probe=refused) == ["new sessions served afterwards"]
    short = dataclasses.replace(GOOD_PROBE, translated=GOOD_PROBE.sent - 1)
    assert failed(probe=short) == ["new sessions served afterwards"]


def test_no_translation_of_an_utterance_sent_after_the_fault_fails() -> None:
    never = dataclasses.replace(GOOD_RECOVERY, first_new_answer_s=None)
    assert failed(r=never) == ["utterances sent after the fault translated"]


# --- settings --------------------------------------------------------------------------


def test_config_refuses_what_would_prove_nothing() -> None:
    with pytest.raises(ValueError, match="fault"):
        ChaosConfig(faults=())
    with pytest.raises(ValueError, match="nodes and sessions"):
        ChaosConfig(faults=("none",), nodes=1)
    with pytest.raises(ValueError, match="rate"):
        ChaosConfig(faults=("none",), rate=0)


def test_config_passes_the_stack_its_settings_callers_last() -> None:
    config = ChaosConfig(faults=("none",), env={"LINGUA_SLOT_AUDIT_INTERVAL_MS": "500"})
    assert config.service_env() == {"LINGUA_SLOT_AUDIT_INTERVAL_MS": "500"}
    assert config.heartbeat_s == 15.0
    short = ChaosConfig(faults=("none",), heartbeat_ms=2000)
    assert short.service_env()["LINGUA_HEARTBEAT_INTERVAL_MS"] == "2000"
    assert short.heartbeat_s == 2.0
