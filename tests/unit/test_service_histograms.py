"""Quantiles from a service's cumulative histogram, as PromQL's histogram_quantile."""

from __future__ import annotations

import math

import pytest

from bench.service_histograms import Buckets

INF = math.inf


def test_quantiles_interpolate_inside_the_bucket_they_fall_in() -> None:
    calls = Buckets((0.001, 0.002, 0.005, INF), (50, 90, 100, 100))
    assert calls.quantile_ms(0.5) == pytest.approx(1.0)
    assert calls.quantile_ms(0.9) == pytest.approx(2.0)
    assert calls.quantile_ms(0.99) == pytest.approx(4.7)
    assert calls.as_dict() == {
        "count": 100,
        "p50_ms": pytest.approx(1.0),
        "p99_ms": pytest.approx(4.7),
    }


def test_a_phase_is_the_difference_of_two_reads() -> None:
    before = Buckets((0.001, 0.01, INF), (10, 10, 10))
    after = Buckets((0.001, 0.01, INF), (10, 110, 110))
    phase = after.minus(before)
    assert phase.count == 100
    assert phase.quantile_ms(0.5) == pytest.approx(5.5)  # all 100 between 1 and 10 ms


def test_no_calls_or_a_tail_past_the_last_bound_has_no_quantile() -> None:
    assert Buckets().quantile_ms(0.99) is None
    assert Buckets((0.001, INF), (0, 0)).quantile_ms(0.5) is None
    assert Buckets((0.001, INF), (90, 100)).quantile_ms(0.99) is None
