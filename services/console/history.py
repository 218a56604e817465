"""Redis access of the console's chart history, shared by every console replica.

One replica computes each point: whoever takes the interval's slot key (SET NX with a
TTL). The counters behind the newest point are kept beside it, so the next point's
increase is right whichever replica computes it, and a restarted console keeps its
charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from lingua_common.keys import Keys
from lingua_common.metrics.aggregate import Totals
from lingua_common.redis_client import RedisClient, run_pipeline

Point = dict[str, Any]


@dataclass(frozen=True)
class KeptTotals:
    """Every replica's counters at `at_ms` (the newest point's end)."""

    at_ms: int
    replicas: dict[str, Totals]


class HistoryStore:
    def __init__(self, client: RedisClient, keys: Keys, max_points: int) -> None:
        self._r: Any = client
        self._keys = keys
        self._max_points = max_points

    async def take_slot(self, slot: int, owner: str, ttl_ms: int) -> bool:
        """True for the one caller that samples this interval."""
        taken = await self._r.set(self._keys.console_sample_slot(slot), owner, nx=True, px=ttl_ms)
        return bool(taken)

    async def totals(self) -> KeptTotals | None:
        raw = await self._r.get(self._keys.console_totals())
        if not raw:
            return None
        body = orjson.loads(raw)
        return KeptTotals(int(body["at_ms"]), body["replicas"])

    async def keep_totals(self, totals: KeptTotals) -> None:
        body = orjson.dumps({"at_ms": totals.at_ms, "replicas": totals.replicas})
        await self._r.set(self._keys.console_totals(), body)

    async def append(self, point: Point, totals: KeptTotals) -> None:
        """The point (newest first, the list capped) and the totals it ends at."""
        history = self._keys.console_history()
        body = orjson.dumps(point)
        totals_body = orjson.dumps({"at_ms": totals.at_ms, "replicas": totals.replicas})

        def writes(pipe: Any) -> None:
            pipe.lpush(history, body)
            pipe.ltrim(history, 0, self._max_points - 1)
            pipe.set(self._keys.console_totals(), totals_body)

        await run_pipeline(self._r, writes)

    async def points(self) -> list[Point]:
        """Oldest first."""
        raw = await self._r.lrange(self._keys.console_history(), 0, self._max_points - 1)
        return [orjson.loads(item) for item in reversed(raw)]
