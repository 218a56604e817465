"""What Redis itself says: memory (INFO, MEMORY USAGE), per-command time and latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis


@dataclass(frozen=True)
class MemoryInfo:
    used_memory: int
    used_memory_dataset: int
    keys: int

    def as_dict(self) -> dict[str, int]:
        return {
            "used_memory": self.used_memory,
            "used_memory_dataset": self.used_memory_dataset,
            "keys": self.keys,
        }


class RedisStats:
    """A small client of the stack's (private) Redis; use as an async context manager."""

    def __init__(self, url: str) -> None:
        self._r: Any = aioredis.Redis.from_url(url, decode_responses=False)

    async def __aenter__(self) -> RedisStats:
        await self._r.ping()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._r.aclose()

    async def memory(self) -> MemoryInfo:
        info = await self._r.info("memory")
        return MemoryInfo(
            used_memory=int(info["used_memory"]),
            used_memory_dataset=int(info.get("used_memory_dataset", 0)),
            keys=int(await self._r.dbsize()),
        )

    async def memory_usage(self, key: str) -> int | None:
        """Bytes of one key, all of its elements counted (None: no such key)."""
        value = await self._r.memory_usage(key, samples=0)
        return None if value is None else int(value)

    async def reset_stats(self) -> None:
        """Zero the command and latency statistics (our private server only)."""
        await self._r.config_resetstat()

    async def command_stats(self) -> dict[str, dict[str, float]]:
        """Per command: calls, usec_per_call (INFO commandstats)."""
        info = await self._r.info("commandstats")
        stats: dict[str, dict[str, float]] = {}
        for name, value in info.items():
            if isinstance(value, dict) and str(name).startswith("cmdstat_"):
                stats[str(name)[len("cmdstat_") :]] = {
                    "calls": float(value.get("calls", 0)),
                    "usec_per_call": float(value.get("usec_per_call", 0.0)),
                }
        return stats

    async def latency_stats(self) -> dict[str, dict[str, float]]:
        """Per command: server-side latency percentiles in µs (INFO latencystats, Redis 7+).
        Empty when the server does not track them."""
        info = await self._r.info("latencystats")
        prefix = "latency_percentiles_usec_"
        stats: dict[str, dict[str, float]] = {}
        for name, values in info.items():
            if isinstance(values, dict) and str(name).startswith(prefix):
                stats[str(name)[len(prefix) :]] = {str(k): float(v) for k, v in values.items()}
        return stats

    async def zcard(self, key: str) -> int:
        return int(await self._r.zcard(key))

    async def zrange_scores(self, key: str) -> dict[str, float]:
        pairs = await self._r.zrange(key, 0, -1, withscores=True)
        return {
            (m.decode() if isinstance(m, bytes) else str(m)): float(score) for m, score in pairs
        }
