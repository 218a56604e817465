"""Load numbers from the services' own metrics: jobs/s, latency percentiles, waiting jobs
per pair, open sockets. The same arithmetic for `lingua top` (which scrapes) and the
console (which reads the metrics board)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lingua_common.metrics import aggregate as agg
from lingua_common.metrics.aggregate import Snapshot, Totals

Pair = tuple[str, str]


@dataclass(frozen=True)
class Interval:
    """What happened between two snapshots."""

    seconds: float
    increases: Totals

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> Interval:
        seconds = max(0.001, (after.at_ms - before.at_ms) / 1000)
        return cls(seconds, agg.increase(before.rate_totals(), after.rate_totals()))

    def per_s(self, name: str, **labels: str) -> float:
        return agg.total_of(self.increases, name, **labels) / self.seconds

    def buckets(self, histogram: str) -> dict[float, float]:
        return agg.buckets_of(self.increases, histogram)

    def to_json(self) -> dict[str, Any]:
        """Rates and the latency buckets' increases (kept for windowed percentiles)."""
        return {
            "seconds": round(self.seconds, 3),
            "created_per_s": self.per_s(agg.JOBS_CREATED),
            "finished_per_s": {
                state: self.per_s(agg.JOBS_FINISHED, state=state) for state in agg.FINAL_STATES
            },
            "no_node_per_s": self.per_s(agg.NO_NODE),
            "dispatch_buckets": _bucket_json(self.buckets(agg.DISPATCH_LATENCY)),
            "result_buckets": _bucket_json(self.buckets(agg.RESULT_LATENCY)),
        }


def _bucket_json(buckets: Mapping[float, float]) -> dict[str, float]:
    return {repr(bound): count for bound, count in sorted(buckets.items())}


def buckets_from_json(data: Mapping[str, float]) -> dict[float, float]:
    return {float(bound): float(count) for bound, count in data.items()}


def percentiles_ms(buckets: Mapping[float, float]) -> dict[str, float | None]:
    return {
        name: None if value is None else round(value * 1000, 2)
        for name, value in agg.quantiles(buckets).items()
    }


def waiting_by_pair(snapshot: Snapshot) -> dict[Pair, int]:
    out: dict[Pair, int] = {}
    for key, value in snapshot.gauge_max(agg.PENDING_BY_PAIR).items():
        labels = agg.parse_key(key)[1]
        out[(labels.get("src_lang", ""), labels.get("tgt_lang", ""))] = int(value)
    return out


def has_dispatcher(snapshot: Snapshot) -> bool:
    """Whether any replica exported the dispatcher's gauges (else waiting is unknown)."""
    return any(
        key.partition("|")[0] == agg.PENDING for s in snapshot.replicas.values() for key in s
    )


def waiting_total(snapshot: Snapshot) -> int | None:
    if not has_dispatcher(snapshot):
        return None
    return int(sum(snapshot.gauge_max(agg.PENDING).values()))


def connections(snapshot: Snapshot) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in snapshot.gauge_sum(agg.CONNECTIONS).items():
        kind = agg.parse_key(key)[1].get("kind", "")
        out[kind] = out.get(kind, 0) + int(value)
    return out
