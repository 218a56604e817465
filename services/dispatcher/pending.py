"""Redis access of the lines of jobs waiting for capacity, one line per language pair.

A dispatcher that takes a job off a line holds it under a lease (pending_take.lua): if
the dispatcher dies before it placed the job or put it back, the lease runs out and the
job returns to its place in line, instead of waiting unseen until its wait times out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, run_pipeline

# Expired leases put back in line per take (bounded work per script call).
RECLAIM_BATCH = 100


@dataclass(frozen=True)
class Taken:
    """A job taken off its line; `since` is its place, `lease_end_ms` whose lease it is."""

    job_id: str
    since_ms: int
    lease_end_ms: int


class PendingQueues:
    def __init__(self, client: RedisClient, scripts: LuaScripts, keys: Keys) -> None:
        self._r: Any = client
        self._lua = scripts
        self._keys = keys

    def _pair_keys(self, src: str, tgt: str) -> list[str]:
        return [self._keys.pending(src, tgt), self._keys.pending_leases(src, tgt)]

    async def enqueue(self, src: str, tgt: str, job_id: str, since_ms: int, limit: int) -> bool:
        """Put a job in line (a job already there keeps its place); False when full."""
        added = await self._lua.run(
            "pending_add", self._pair_keys(src, tgt), [job_id, since_ms, limit]
        )
        if not int(added):
            return False
        # After the job is in line: a sweeper that forgets the pair in between re-checks.
        await self._r.sadd(self._keys.pending_pairs(), f"{src} {tgt}")
        return True

    async def take(self, src: str, tgt: str, *, now_ms: int, lease_ms: int) -> Taken | None:
        """The oldest waiting job of a pair, leased to this caller alone."""
        reply = await self._lua.run(
            "pending_take", self._pair_keys(src, tgt), [now_ms, lease_ms, RECLAIM_BATCH]
        )
        if not reply:
            return None
        job_id, since, lease_end = reply
        return Taken(_text(job_id), int(float(since)), int(lease_end))

    async def put_back(self, src: str, tgt: str, taken: Taken) -> bool:
        """The job still waits: back to its old place in line."""
        return await self._end_lease(src, tgt, taken, requeue=True)

    async def done(self, src: str, tgt: str, taken: Taken) -> bool:
        """The job no longer waits (placed, finished or gone)."""
        return await self._end_lease(src, tgt, taken, requeue=False)

    async def _end_lease(self, src: str, tgt: str, taken: Taken, *, requeue: bool) -> bool:
        ended = await self._lua.run(
            "pending_return",
            self._pair_keys(src, tgt),
            [taken.job_id, taken.since_ms, 1 if requeue else 0, taken.lease_end_ms],
        )
        return bool(int(ended))

    async def drop(self, src: str, tgt: str, job_id: str) -> None:
        """A job that stopped waiting (failed, cancelled) leaves the line. A lease on it
        ends when its taker finds the job no longer pending."""
        await self._r.zrem(self._keys.pending(src, tgt), job_id)

    async def holds(self, src: str, tgt: str, job_id: str) -> bool:
        """Whether the job is in its pair's line (waiting, or taken by a placer)."""

        def reads(pipe: Any) -> None:
            pipe.zscore(self._keys.pending(src, tgt), job_id)
            pipe.zrange(self._keys.pending_leases(src, tgt), 0, -1)

        score, leased = await run_pipeline(self._r, reads)
        suffix = f":{job_id}"
        return score is not None or any(_text(m).endswith(suffix) for m in leased)

    async def pairs(self) -> list[tuple[str, str]]:
        members = await self._r.smembers(self._keys.pending_pairs())
        pairs = []
        for member in members:
            src, _, tgt = _text(member).partition(" ")
            pairs.append((src, tgt))
        return pairs

    async def forget_pair_if_empty(self, src: str, tgt: str) -> bool:
        """Drop the pair from the set of pairs to look at, unless a job still waits (in
        line or leased). True when forgotten."""
        if await self.depth(src, tgt):
            return False
        member = f"{src} {tgt}"
        await self._r.srem(self._keys.pending_pairs(), member)
        # The set and the line live in different slots, so this is two steps: a job put
        # in line meanwhile (enqueue adds the pair after the job) is seen here.
        if await self.depth(src, tgt):
            await self._r.sadd(self._keys.pending_pairs(), member)
            return False
        return True

    async def depth(self, src: str, tgt: str) -> int:
        """Jobs of the pair waiting: in line, or taken and not yet placed."""

        def sizes(pipe: Any) -> None:
            for key in self._pair_keys(src, tgt):
                pipe.zcard(key)

        return sum(int(n) for n in await run_pipeline(self._r, sizes))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
