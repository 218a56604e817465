"""Reading the services' own Prometheus text the way Prometheus would, for operator tools.

A snapshot holds every replica's samples. Between two snapshots, a counter's increase
is taken per replica and series, a reset (the replica restarted) counts from zero, and a
replica seen for the first time adds nothing (its total covers an unknown time) — as
Prometheus' `increase()` does. Histogram quantiles interpolate within a bucket, as
`histogram_quantile()` does. Gauges whose truth is in Redis read the same on every
replica, so they are taken as the largest reading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

# A series: its sample name and labels, as "name|k=v,k=v" (labels sorted).
SeriesKey = str
Totals = dict[SeriesKey, float]

JOBS_CREATED = "lingua_jobs_created_total"
JOBS_FINISHED = "lingua_jobs_finished_total"
NO_NODE = "lingua_no_available_node_total"
DISPATCH_LATENCY = "lingua_dispatch_latency_seconds"
RESULT_LATENCY = "lingua_result_latency_seconds"
PENDING = "lingua_pending_jobs"
PENDING_BY_PAIR = "lingua_pending_jobs_by_pair"
CONNECTIONS = "lingua_connections"
# The counters (and histogram buckets) whose increases the tools show.
RATE_SERIES = (
    JOBS_CREATED,
    JOBS_FINISHED,
    NO_NODE,
    DISPATCH_LATENCY + "_bucket",
    RESULT_LATENCY + "_bucket",
)
FINAL_STATES = ("completed", "failed", "cancelled")
QUANTILES = (0.5, 0.95, 0.99)


def series_key(name: str, labels: Mapping[str, str]) -> SeriesKey:
    return name + "|" + ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def parse_key(key: SeriesKey) -> tuple[str, dict[str, str]]:
    name, _, rest = key.partition("|")
    labels = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, labels


def parse_text(text: str) -> Totals:
    """Every sample of one replica's Prometheus text."""
    samples: Totals = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[series_key(sample.name, sample.labels)] = float(sample.value)
    return samples


@dataclass(frozen=True)
class Snapshot:
    """Every replica's samples at one moment (`at_ms`)."""

    at_ms: int
    replicas: dict[str, Totals] = field(default_factory=dict)

    @classmethod
    def of_texts(cls, at_ms: int, texts: Mapping[str, str]) -> Snapshot:
        return cls(at_ms, {replica: parse_text(text) for replica, text in texts.items()})

    def rate_totals(self) -> dict[str, Totals]:
        """Only the counters the tools take increases of (what is kept between points)."""
        return {
            replica: {k: v for k, v in samples.items() if k.partition("|")[0] in RATE_SERIES}
            for replica, samples in self.replicas.items()
        }

    def gauge_max(self, name: str) -> dict[SeriesKey, float]:
        """A Redis-backed gauge: per series, the largest reading over the replicas."""
        out: dict[SeriesKey, float] = {}
        for samples in self.replicas.values():
            for key, value in samples.items():
                if key.partition("|")[0] == name:
                    out[key] = max(out.get(key, value), value)
        return out

    def gauge_sum(self, name: str) -> dict[SeriesKey, float]:
        """A per-replica gauge (e.g. open sockets): per series, the sum over replicas."""
        out: dict[SeriesKey, float] = {}
        for samples in self.replicas.values():
            for key, value in samples.items():
                if key.partition("|")[0] == name:
                    out[key] = out.get(key, 0.0) + value
        return out


def increase(previous: Mapping[str, Totals], current: Mapping[str, Totals]) -> Totals:
    """Per series, the increase summed over replicas (resets and new replicas handled)."""
    out: Totals = {}
    for replica, samples in current.items():
        before = previous.get(replica)
        if before is None:
            continue  # first sight of this replica: its totals cover an unknown span
        for key, value in samples.items():
            old = before.get(key, 0.0)
            delta = value if value < old else value - old
            out[key] = out.get(key, 0.0) + delta
    return out


def total_of(samples: Mapping[SeriesKey, float], name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    found = 0.0
    for key, value in samples.items():
        sample_name, sample_labels = parse_key(key)
        if sample_name == name and wanted <= set(sample_labels.items()):
            found += value
    return found


def buckets_of(samples: Mapping[SeriesKey, float], histogram: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts by upper bound (+Inf included)."""
    out: dict[float, float] = {}
    for key, value in samples.items():
        name, labels = parse_key(key)
        if name == histogram + "_bucket" and "le" in labels:
            bound = float(labels["le"])
            out[bound] = out.get(bound, 0.0) + value
    return out


def add_buckets(parts: Iterable[Mapping[float, float]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for part in parts:
        for bound, count in part.items():
            out[bound] = out.get(bound, 0.0) + count
    return out


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative buckets; None when nothing counted."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                # Beyond the largest finite bucket: that bound is all that is known.
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def quantiles(buckets: Mapping[float, float]) -> dict[str, float | None]:
    """p50, p95, p99 in seconds."""
    return {f"p{round(q * 100)}": quantile(q, buckets) for q in QUANTILES}
