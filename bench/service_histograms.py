"""A service's own view of its calls: the per-method latency histogram it exports on
GET /metrics (lingua_grpc_server_handling_seconds), read before and after a phase.

The difference of two reads is the phase's calls; quantiles are interpolated inside
buckets, as PromQL's histogram_quantile does, so they are as exact as the buckets.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

HISTOGRAM = "lingua_grpc_server_handling_seconds"
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Buckets:
    """Cumulative counts per upper bound (seconds), +Inf last."""

    bounds: tuple[float, ...] = ()
    counts: tuple[float, ...] = ()

    @property
    def count(self) -> float:
        return self.counts[-1] if self.counts else 0.0

    def minus(self, earlier: Buckets) -> Buckets:
        if not earlier.counts:
            return self
        return Buckets(
            self.bounds, tuple(a - b for a, b in zip(self.counts, earlier.counts, strict=True))
        )

    def quantile_ms(self, q: float) -> float | None:
        """The q-quantile (0..1) in ms; None without calls or past the last finite bound."""
        total = self.count
        if total <= 0:
            return None
        rank = q * total
        lower, below = 0.0, 0.0
        for bound, cumulative in zip(self.bounds, self.counts, strict=True):
            if cumulative >= rank:
                if math.isinf(bound):
                    return None
                inside = cumulative - below
                share = (rank - below) / inside if inside > 0 else 1.0
                return (lower + (bound - lower) * share) * 1000
            lower, below = bound, cumulative
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50_ms": self.quantile_ms(0.5),
            "p99_ms": self.quantile_ms(0.99),
        }


async def read_buckets(port: int, method: str) -> Buckets:
    """The service's histogram of one gRPC method, as it stands now."""
    text = await _http_get_metrics(port)
    found: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != HISTOGRAM:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("grpc_method") == method:
                bound = float(sample.labels["le"])
                found[bound] = found.get(bound, 0.0) + sample.value
    bounds = tuple(sorted(found))
    return Buckets(bounds, tuple(found[b] for b in bounds))


async def read_counter(port: int, name: str) -> float:
    """A service's counter (summed over its labels), as it stands now."""
    text = await _http_get_metrics(port)
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_total":
                total += sample.value
    return total


async def _http_get_metrics(port: int) -> str:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), READ_TIMEOUT_S
    )
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), READ_TIMEOUT_S)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET /metrics on port {port}: {head[:80]!r}")
    return body.decode()
