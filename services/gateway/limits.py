"""Per-connection message rate and byte budget, and per-address connection count.

Both are plain synchronous bookkeeping with time from the injected clock, so tests drive
them with a ManualClock instead of sleeping.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum

from lingua_common.clock import Clock
from services.gateway.settings import RateLimit


class Verdict(Enum):
    ACCEPT = "accept"
    REFUSE = "refuse"  # over the rate: drop this message, tell the peer
    ABUSE = "abuse"  # refused too often in a row: close the connection


class TokenBucket:
    def __init__(self, limit: RateLimit, now_s: float) -> None:
        self._rate = limit.per_s
        self._burst = float(max(1, limit.burst))
        self._tokens = self._burst
        self._at = now_s

    def take(self, now_s: float) -> bool:
        elapsed = max(0.0, now_s - self._at)
        self._at = now_s
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class ByteBudget:
    """A connection's bytes: a token bucket that may go into debt. Every frame is
    charged once it is read, whatever its size (one larger than the burst too); while
    the connection is in debt it is not read (`wait_s`), so TCP pushes back on the peer,
    instead of the gateway reading frames only to refuse them."""

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self._clock = clock
        self._rate = limit.per_s
        self._burst = float(limit.burst)
        self._tokens = self._burst
        self._at = clock.monotonic()

    def charge(self, nbytes: int) -> None:
        if self._rate <= 0:
            return
        self._refill()
        self._tokens -= nbytes

    def wait_s(self) -> float:
        """How long until the debt is paid back (0: the connection may be read)."""
        if self._rate <= 0:
            return 0.0
        self._refill()
        return max(0.0, -self._tokens / self._rate)

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._at)
        self._at = now
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)


def frame_bytes(frame: str | bytes) -> int:
    """A frame's payload size (a text frame's UTF-8 length; ASCII is the common case)."""
    if isinstance(frame, bytes) or frame.isascii():
        return len(frame)
    return len(frame.encode())


class RateGuard:
    """Admits a connection's messages at its rate; `strikes` refusals in a row is abuse."""

    def __init__(self, limit: RateLimit, strikes: int, clock: Clock) -> None:
        self._clock = clock
        self._bucket = TokenBucket(limit, clock.monotonic()) if limit.enabled else None
        self._strikes_allowed = strikes
        self.strikes = 0

    def admit(self) -> Verdict:
        if self._bucket is None or self._bucket.take(self._clock.monotonic()):
            self.strikes = 0
            return Verdict.ACCEPT
        self.strikes += 1
        return Verdict.ABUSE if self.strikes >= self._strikes_allowed else Verdict.REFUSE


class ConnectionCounter:
    """Open connections per remote address, limited (0: unlimited)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._open: Counter[str] = Counter()

    def full(self, address: str) -> bool:
        return self._limit > 0 and self._open[address] >= self._limit

    def acquire(self, address: str) -> bool:
        if self.full(address):
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def count(self, address: str) -> int:
        return self._open[address]
