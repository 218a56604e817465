"""Rate limiting per connection and connection counts per address, on a ManualClock."""

from __future__ import annotations

from lingua_common.clock import ManualClock
from services.gateway.limits import (
    ByteBudget,
    ConnectionCounter,
    RateGuard,
    TokenBucket,
    Verdict,
    frame_bytes,
)
from services.gateway.settings import RateLimit


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    bucket = TokenBucket(RateLimit(per_s=10, burst=5), now_s=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True  # one token after 100 ms at 10/s
    assert bucket.take(0.1) is False


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(RateLimit(per_s=10, burst=3), now_s=0.0)
    assert sum(bucket.take(3600.0) for _ in range(10)) == 3


def test_a_clock_going_backwards_gives_no_tokens() -> None:
    bucket = TokenBucket(RateLimit(per_s=10, burst=1), now_s=100.0)
    assert bucket.take(100.0)
    assert not bucket.take(50.0)


def test_guard_refuses_over_the_rate_and_calls_repeated_refusal_abuse() -> None:
    clock = ManualClock()
    guard = RateGuard(RateLimit(per_s=1, burst=2), strikes=3, clock=clock)
    verdicts = [guard.admit() for _ in range(5)]
    assert verdicts == [
        Verdict.ACCEPT,
        Verdict.ACCEPT,
        Verdict.REFUSE,
        Verdict.REFUSE,
        Verdict.ABUSE,
    ]


def test_guard_forgives_strikes_once_a_message_is_accepted_again() -> None:
    clock = ManualClock()
    guard = RateGuard(RateLimit(per_s=1, burst=1), strikes=3, clock=clock)
    assert guard.admit() is Verdict.ACCEPT
    assert [guard.admit(), guard.admit()] == [Verdict.REFUSE, Verdict.REFUSE]
    clock.advance(1000)
    assert guard.admit() is Verdict.ACCEPT
    assert guard.strikes == 0
    assert [guard.admit(), guard.admit()] == [Verdict.REFUSE, Verdict.REFUSE]


def test_a_zero_rate_disables_the_guard() -> None:
    guard = RateGuard(RateLimit(per_s=0, burst=0), strikes=1, clock=ManualClock())
    assert all(guard.admit() is Verdict.ACCEPT for _ in range(10_000))


def test_connection_counter_limits_each_address_separately() -> None:
    counter = ConnectionCounter(limit=2)
    assert counter.acquire("10.0.0.1") and counter.acquire("10.0.0.1")
    assert counter.full("10.0.0.1") and not counter.acquire("10.0.0.1")
    assert counter.acquire("10.0.0.2")
    counter.release("10.0.0.1")
    assert counter.count("10.0.0.1") == 1
    assert counter.acquire("10.0.0.1")


def test_connection_counter_zero_is_unlimited() -> None:
    counter = ConnectionCounter(limit=0)
    assert all(counter.acquire("127.0.0.1") for _ in range(1000))
    for _ in range(1000):
        counter.release("127.0.0.1")
    assert counter.count("127.0.0.1") == 0


def test_a_byte_budget_lets_its_burst_through_then_paces_to_its_rate() -> None:
    clock = ManualClock()
    budget = ByteBudget(RateLimit(per_s=1000, burst=3000), clock)
    for _ in range(3):
        assert budget.wait_s() == 0.0
        budget.charge(1000)
    assert budget.wait_s() == 0.0  # exactly spent: not in debt
    budget.charge(500)
    assert budget.wait_s() == 0.5  # 500 bytes of debt at 1000 bytes/s
    clock.advance(250)
    assert budget.wait_s() == 0.25
    clock.advance(250)
    assert budget.wait_s() == 0.0


def test_a_frame_larger_than_the_burst_is_read_and_paid_back_afterwards() -> None:
    clock = ManualClock()
    budget = ByteBudget(RateLimit(per_s=1000, burst=100), clock)
    budget.charge(1_000_000)  # one huge frame: read, not refused
    assert budget.wait_s() == 999.9
    clock.advance(999_900)
    assert budget.wait_s() == 0.0


def test_a_byte_budget_never_saves_more_than_its_burst() -> None:
    clock = ManualClock()
    budget = ByteBudget(RateLimit(per_s=1000, burst=2000), clock)
    clock.advance(3_600_000)
    budget.charge(2500)
    assert budget.wait_s() == 0.5


def test_a_zero_byte_rate_disables_the_budget() -> None:
    budget = ByteBudget(RateLimit(per_s=0, burst=0), ManualClock())
    budget.charge(10**9)
    assert budget.wait_s() == 0.0


def test_frames_are_counted_in_bytes() -> None:
    assert frame_bytes(b"\x00" * 10) == 10
    assert frame_bytes("abc") == 3
    assert frame_bytes("é") == 2  # UTF-8, as on the wire
