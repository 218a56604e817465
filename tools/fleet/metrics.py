"""In-process latency bookkeeping shared by the fake nodes and clients of one fleet.

All peers run in one process and stamp events with `time.perf_counter()`, so the hops
through the scheduler can be measured without synchronised clocks.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

REGISTER = "register"
UTTERANCE_TO_ASSIGN = "utterance_to_assign"
RESULT_TO_ANSWER = "result_to_answer"
END_TO_END = "end_to_end"
METRICS = (REGISTER, UTTERANCE_TO_ASSIGN, RESULT_TO_ANSWER, END_TO_END)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Milliseconds; zeros when there is no sample."""

    count: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return 0.0
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be within 0..100")
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    weight = rank - low
    return sorted_values[low] * (1.0 - weight) + sorted_values[high] * weight


def summarize(seconds: Sequence[float]) -> LatencySummary:
    if not seconds:
        return LatencySummary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    ms = sorted(s * 1000.0 for s in seconds)
    return LatencySummary(
        count=len(ms),
        mean_ms=sum(ms) / len(ms),
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1],
    )


class Reservoir:
    """A bounded uniform sample of a stream of values (algorithm R)."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._values: list[float] = []
        self._seen = 0
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self._seen += 1
        if len(self._values) < self._capacity:
            self._values.append(value)
            return
        slot = self._rng.randrange(self._seen)
        if slot < self._capacity:
            self._values[slot] = value

    @property
    def values(self) -> list[float]:
        return list(self._values)


@dataclass(slots=True)
class _Trace:
    sent_at: float | None = None
    assigned_at: float | None = None
    result_at: float | None = None
    job_ids: list[str] = field(default_factory=list)


Key = tuple[str, int]


class LatencyRecorder:
    """Stamps keyed by (session_id, utterance_index); pending traces are capped."""

    def __init__(self, max_samples: int = 200_000, max_pending: int = 100_000) -> None:
        self._samples = {name: Reservoir(max_samples, seed=i) for i, name in enumerate(METRICS)}
        self._pending: OrderedDict[Key, _Trace] = OrderedDict()
        self._max_pending = max_pending

    def _trace(self, key: Key) -> _Trace:
        trace = self._pending.get(key)
        if trace is None:
            trace = self._pending[key] = _Trace()
            # Oldest traces are those whose answer never came; drop them first.
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
        return trace

    def add(self, metric: str, seconds: float) -> None:
        self._samples[metric].add(seconds)

    def utterance_sent(self, session_id: str, index: int, at: float) -> None:
        self._trace((session_id, index)).sent_at = at

    def assign_received(self, session_id: str, index: int, job_id: str, at: float) -> None:
        trace = self._trace((session_id, index))
        if len(trace.job_ids) < 8:
            trace.job_ids.append(job_id)
        if trace.assigned_at is None:  # a retry is not the first dispatch
            trace.assigned_at = at
            if trace.sent_at is not None:
                self.add(UTTERANCE_TO_ASSIGN, at - trace.sent_at)

    def result_sent(self, session_id: str, index: int, at: float) -> None:
        # The last result sent is the one the scheduler forwards.
        self._trace((session_id, index)).result_at = at

    def answer_received(self, session_id: str, index: int, at: float) -> None:
        trace = self._pending.pop((session_id, index), None)
        if trace is None:
            return
        if trace.sent_at is not None:
            self.add(END_TO_END, at - trace.sent_at)
        if trace.result_at is not None:
            self.add(RESULT_TO_ANSWER, at - trace.result_at)

    def summaries(self) -> dict[str, LatencySummary]:
        return {name: summarize(res.values) for name, res in self._samples.items()}
