"""ResultOrderer: answers leave in utterance_index order, exactly once (FAILURE #3, #22)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.ordering import ResultOrderer

TIMEOUT = 1000


def answer(index: int, kind: str = "translation_result") -> list[dict[str, object]]:
    return [{"type": kind, "utterance_index": index}]


def indexes(messages: list[dict[str, object]]) -> list[object]:
    return [m.get("utterance_index", m.get("details", {}).get("utterance_index")) for m in messages]


def orderer_expecting(*expected: int, now_ms: int = 0) -> ResultOrderer:
    orderer = ResultOrderer(answer_timeout_ms=TIMEOUT)
    for index in expected:
        assert orderer.expect(index, now_ms)
    return orderer


def test_an_answer_for_the_head_index_leaves_at_once():
    orderer = orderer_expecting(0, 1)
    assert orderer.offer(0, answer(0)) == answer(0)
    assert orderer.outstanding == 1


def test_a_later_answer_waits_for_the_earlier_one_then_both_leave_in_order():
    orderer = orderer_expecting(0, 1, 2)
    assert orderer.offer(2, answer(2)) == []
    assert orderer.offer(1, answer(1)) == []
    assert orderer.offer(0, answer(0)) == answer(0) + answer(1) + answer(2)
    assert orderer.outstanding == 0


def test_a_multi_message_answer_leaves_whole_and_in_place():
    orderer = orderer_expecting(0, 1)
    two = [{"type": "ui_event", "utterance_index": 1}, {"type": "error", "utterance_index": 1}]
    assert orderer.offer(1, two) == []
    assert orderer.offer(0, answer(0)) == [*answer(0), *two]


def test_failure_3_a_duplicate_answer_for_a_waiting_index_is_dropped():
    orderer = orderer_expecting(0, 1)
    assert orderer.offer(1, answer(1)) == []
    assert orderer.offer(1, answer(1, "duplicate")) == []
    assert orderer.offer(0, answer(0)) == answer(0) + answer(1)


def test_failure_3_a_duplicate_answer_after_delivery_is_dropped():
    orderer = orderer_expecting(0)
    assert orderer.offer(0, answer(0)) == answer(0)
    assert orderer.offer(0, answer(0)) == []


def test_an_answer_for_an_index_never_expected_is_dropped():
    orderer = orderer_expecting(0)
    assert orderer.offer(7, answer(7)) == []
    assert orderer.outstanding == 1


def test_failure_22_a_failed_answer_counts_and_unblocks_later_ones():
    orderer = orderer_expecting(0, 1)
    assert orderer.offer(1, answer(1)) == []
    failed = [{"type": "error", "code": "NODE_UNAVAILABLE", "utterance_index": 0}]
    assert orderer.offer(0, failed) == failed + answer(1)


def test_failure_22_an_empty_answer_counts_and_unblocks_later_ones():
    orderer = orderer_expecting(0, 1)
    assert orderer.offer(1, answer(1)) == []
    assert orderer.offer(0, answer(0, "missing_result")) == answer(0, "missing_result") + answer(1)


def test_expire_waits_until_the_timeout_has_passed():
    orderer = orderer_expecting(0, now_ms=100)
    assert orderer.next_deadline_ms() == 1100
    assert orderer.expire(1099, "s1") == []
    assert orderer.outstanding == 1


def test_expire_times_out_a_stuck_head_with_job_timeout_then_later_answers_flow():
    orderer = ResultOrderer(answer_timeout_ms=TIMEOUT)
    orderer.expect(0, 0)
    orderer.expect(1, 500)
    orderer.note_job(0, "job-0", "trace-0")
    assert orderer.offer(1, answer(1)) == []
    out = orderer.expire(1000, "s1")
    assert out == [
        {
            "type": "error",
            "code": "JOB_TIMEOUT",
            "message": "no result for utterance 0 in time",
            "details": {
                "utterance_index": 0,
                "job_id": "job-0",
                "trace_id": "trace-0",
                "session_id": "s1",
            },
        },
        *answer(1),
    ]
    assert orderer.outstanding == 0
    assert orderer.next_deadline_ms() is None


def test_expire_times_out_each_index_by_its_own_deadline():
    orderer = ResultOrderer(answer_timeout_ms=TIMEOUT)
    orderer.expect(0, 0)
    orderer.expect(1, 600)
    assert indexes(orderer.expire(1000, "s")) == [0]
    assert orderer.next_deadline_ms() == 1600
    assert orderer.expire(1599, "s") == []
    assert indexes(orderer.expire(1600, "s")) == [1]


def test_a_late_real_answer_after_the_timeout_is_dropped():
    orderer = orderer_expecting(0, 1)
    assert indexes(orderer.expire(TIMEOUT, "s")) == [0, 1]
    assert orderer.offer(0, answer(0)) == []
    assert orderer.offer(1, answer(1)) == []


def test_expect_of_an_index_already_accepted_returns_false():
    orderer = orderer_expecting(0)
    assert orderer.expect(0, 5) is False  # still waiting
    orderer.offer(0, answer(0))
    assert orderer.expect(0, 6) is False  # already answered
    assert orderer.expect(1, 7) is True


def test_note_job_for_an_unknown_index_is_harmless():
    orderer = orderer_expecting(0)
    orderer.note_job(9, "job-9", "trace-9")
    assert orderer.outstanding == 1


# --- property ----------------------------------------------------------------------------------


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    count = draw(st.integers(1, 20))
    answers = [("offer", i) for i in range(count)]
    answers += draw(st.lists(st.sampled_from(answers), max_size=10))  # duplicates
    answers += draw(st.lists(st.tuples(st.just("expire"), st.integers(0, 600)), max_size=5))
    return count, draw(st.permutations(answers))


@settings(max_examples=300, deadline=None)
@given(case=interleavings())
def test_property_output_is_strictly_increasing_and_each_index_leaves_once(case):
    count, ops = case
    orderer = ResultOrderer(answer_timeout_ms=TIMEOUT)
    for index in range(count):
        orderer.expect(index, index * 50)
    now, out = 0, []
    for kind, value in ops:
        if kind == "offer":
            out.extend(orderer.offer(value, answer(value)))
        else:
            now += value
            out.extend(orderer.expire(now, "s"))
    out.extend(orderer.expire(now + 10 * TIMEOUT, "s"))  # whatever is left times out
    emitted = indexes(out)
    assert emitted == list(range(count))
    assert orderer.outstanding == 0
