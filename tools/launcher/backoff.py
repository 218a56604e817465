"""How long to wait before restarting a service that died: doubling, capped, and
forgiven once the service has stayed up for a while. Pure: time comes in as arguments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RestartBackoff:
    first_s: float = 0.5
    max_s: float = 30.0
    # A service that ran this long since its last start is healthy again: its next crash
    # is restarted after `first_s`, not after the delay its old crashes had built up.
    stable_s: float = 30.0
    restarts: int = 0
    _started_at: float = 0.0

    def started(self, now_s: float) -> None:
        self._started_at = now_s

    def next_delay(self, now_s: float) -> float:
        """The wait before the next restart of a service that just exited (counts it)."""
        if now_s - self._started_at >= self.stable_s:
            self.restarts = 0
        delay = min(self.max_s, self.first_s * 2.0**self.restarts)
        self.restarts += 1
        return delay
