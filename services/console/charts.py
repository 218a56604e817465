"""Chart series from the history points (pure): jobs/s and outcomes per point, latency
percentiles over a sliding window of points (one interval holds too few jobs for a
p99), waiting jobs and nodes by status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lingua_common.metrics.aggregate import add_buckets
from lingua_common.ops.stats import buckets_from_json, percentiles_ms
from lingua_common.ops.views import NODE_STATUSES

Point = dict[str, Any]
SERIES = (
    "t",
    "jobs_per_s",
    "completed_per_s",
    "failed_per_s",
    "cancelled_per_s",
    "no_node_per_s",
    "dispatch_p50_ms",
    "dispatch_p95_ms",
    "dispatch_p99_ms",
    "result_p50_ms",
    "result_p95_ms",
    "result_p99_ms",
    "waiting",
    *(f"nodes_{status}" for status in NODE_STATUSES),
)


def _windowed(points: Sequence[Point], i: int, window_ms: int, key: str) -> dict[str, Any]:
    end = points[i]["t"]
    parts = []
    j = i
    while j >= 0 and end - points[j]["t"] < window_ms:
        parts.append(buckets_from_json(points[j][key]))
        j -= 1
    return percentiles_ms(add_buckets(parts))


def series(points: Sequence[Point], window_ms: int) -> dict[str, list[Any]]:
    """Column arrays (uPlot's data layout), `t` in seconds since the epoch."""
    out: dict[str, list[Any]] = {name: [] for name in SERIES}
    for i, point in enumerate(points):
        finished = point["finished_per_s"]
        dispatch = _windowed(points, i, window_ms, "dispatch_buckets")
        result = _windowed(points, i, window_ms, "result_buckets")
        row = {
            "t": point["t"] / 1000,
            "jobs_per_s": round(point["created_per_s"], 3),
            "completed_per_s": round(finished.get("completed", 0.0), 3),
            "failed_per_s": round(finished.get("failed", 0.0), 3),
            "cancelled_per_s": round(finished.get("cancelled", 0.0), 3),
            "no_node_per_s": round(point["no_node_per_s"], 3),
            "dispatch_p50_ms": dispatch["p50"],
            "dispatch_p95_ms": dispatch["p95"],
            "dispatch_p99_ms": dispatch["p99"],
            "result_p50_ms": result["p50"],
            "result_p95_ms": result["p95"],
            "result_p99_ms": result["p99"],
            "waiting": point.get("waiting"),
            **{f"nodes_{s}": point.get("nodes", {}).get(s, 0) for s in NODE_STATUSES},
        }
        for name in SERIES:
            out[name].append(row[name])
    return out


def latest(points: Sequence[Point], window_ms: int) -> dict[str, Any] | None:
    """The newest point's values (the page's headline numbers), None without points."""
    if not points:
        return None
    last = series(points[-_window_len(points, window_ms) :], window_ms)
    return {name: values[-1] for name, values in last.items()}


def _window_len(points: Sequence[Point], window_ms: int) -> int:
    end = points[-1]["t"]
    n = 0
    for point in reversed(points):
        if end - point["t"] >= window_ms:
            break
        n += 1
    return max(1, n)


def window_totals(points: Sequence[Point]) -> dict[str, Any]:
    """Jobs over the whole history (created, and by outcome): each point's rate times its
    interval, added up. `since_ms` is where the history starts."""
    totals = {"created": 0.0, "completed": 0.0, "failed": 0.0, "cancelled": 0.0}
    for point in points:
        seconds = point["seconds"]
        totals["created"] += point["created_per_s"] * seconds
        for state in ("completed", "failed", "cancelled"):
            totals[state] += point["finished_per_s"].get(state, 0.0) * seconds
    since = points[0]["t"] - points[0]["seconds"] * 1000 if points else None
    return {**{k: round(v) for k, v in totals.items()}, "since_ms": since}
