"""Latency bookkeeping and percentiles."""

from __future__ import annotations

import pytest

from tools.fleet import metrics
from tools.fleet.metrics import LatencyRecorder, Reservoir, percentile, summarize


def test_percentile_interpolates() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 90) == pytest.approx(4.6)
    assert percentile([], 50) == 0.0
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summarize_in_ms() -> None:
    summary = summarize([0.001 * i for i in range(1, 101)])
    assert summary.count == 100
    assert summary.mean_ms == pytest.approx(50.5)
    assert summary.p50_ms == pytest.approx(50.5)
    assert summary.p99_ms == pytest.approx(99.01)
    assert summary.max_ms == pytest.approx(100.0)
    assert summarize([]).count == 0


def test_recorder_measures_each_hop() -> None:
    rec = LatencyRecorder()
    rec.utterance_sent("s", 0, 10.0)
    rec.assign_received("s", 0, "j1", 10.1)
    rec.assign_received("s", 0, "j1", 10.5)  # a retry: the first dispatch counts
    rec.result_sent("s", 0, 10.6)
    rec.answer_received("s", 0, 10.7)
    rec.answer_received("s", 0, 11.0)  # a duplicate answer: already accounted
    rec.add(metrics.REGISTER, 0.002)
    s = rec.summaries()
    assert s[metrics.UTTERANCE_TO_ASSIGN].count == 1
    assert s[metrics.UTTERANCE_TO_ASSIGN].p50_ms == pytest.approx(100.0)
    assert s[metrics.RESULT_TO_ANSWER].p50_ms == pytest.approx(100.0)
    assert s[metrics.END_TO_END].p50_ms == pytest.approx(700.0)
    assert s[metrics.END_TO_END].count == 1
    assert s[metrics.REGISTER].p50_ms == pytest.approx(2.0)


def test_recorder_memory_is_bounded() -> None:
    rec = LatencyRecorder(max_samples=10, max_pending=5)
    for i in range(100):
        rec.utterance_sent("s", i, float(i))
    rec.answer_received("s", 0, 1.0)  # evicted long ago: ignored
    for i in range(95, 100):
        rec.answer_received("s", i, i + 0.5)
    assert rec.summaries()[metrics.END_TO_END].count == 5
    reservoir = Reservoir(10)
    for i in range(1000):
        reservoir.add(float(i))
    assert len(reservoir.values) == 10
