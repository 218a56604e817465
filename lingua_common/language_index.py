"""The language index held in memory: directed pair -> pools of nodes, no I/O.

The pool-index service owns it; other services (the dispatcher) keep a replica of it,
fed by the pool's change feed. Each pair's members are split into shards ("pools") of
at most `shard_size`, by jump consistent hash, so a growing pair moves only 1/k of its
nodes when it gains a shard. Lookups sample a preferred shard first (session affinity)
and spill over to the pair's other members.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Pair = tuple[str, str]

DEFAULT_SHARD_SIZE = 100


BOTH_WAYS = "<->"


def pool_id(pair: Pair, shard: int, both_ways: bool = False) -> str:
    """A pool is one shard of a pair: "zh:en#0"; of a pair served both ways: "en<->zh#0"."""
    if both_ways:
        return f"{pair[0]}{BOTH_WAYS}{pair[1]}#{shard}"
    return f"{pair[0]}:{pair[1]}#{shard}"


def parse_pool_id(value: str, both_ways: bool = False) -> tuple[Pair, int] | None:
    """(pair, shard) of a pool id of the given kind; None for anything else."""
    head, sep, shard = value.rpartition("#")
    src, mark, tgt = head.partition(BOTH_WAYS if both_ways else ":")
    if not (sep and mark and src and tgt and shard.isdigit()):
        return None
    return (src, tgt), int(shard)


def both_ways_pairs(pairs: frozenset[Pair]) -> frozenset[Pair]:
    """The unordered pairs (sorted) served in both directions."""
    return frozenset((s, t) for s, t in pairs if s < t and (t, s) in pairs)


@dataclass(frozen=True)
class NodeEntry:
    pairs: frozenset[Pair]
    ready: frozenset[str]


class _Members:
    """A set with O(1) add, remove and uniform random pick."""

    __slots__ = ("_items", "_pos")

    def __init__(self) -> None:
        self._items: list[str] = []
        self._pos: dict[str, int] = {}

    def add(self, item: str) -> None:
        if item not in self._pos:
            self._pos[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        pos = self._pos.pop(item, None)
        if pos is None:
            return
        last = self._items.pop()
        if pos < len(self._items):
            self._items[pos] = last
            self._pos[last] = pos

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[str]:
        return self._items


def _key(node_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(node_id.encode(), digest_size=8).digest(), "big")


def jump_hash(key: int, buckets: int) -> int:
    """Lamping & Veach's jump consistent hash: key -> [0, buckets)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


class _PairPools:
    """All members of one pair, and their split into shards."""

    def __init__(self, shard_size: int) -> None:
        self.members = _Members()
        self.shards: list[_Members] = [_Members()]
        self._shard_size = shard_size

    def shard_of(self, node_id: str) -> int:
        return jump_hash(_key(node_id), len(self.shards))

    def add(self, node_id: str) -> None:
        self.members.add(node_id)
        if not self._reshard():
            self.shards[self.shard_of(node_id)].add(node_id)

    def discard(self, node_id: str) -> None:
        self.members.discard(node_id)
        if not self._reshard():
            self.shards[self.shard_of(node_id)].discard(node_id)

    def _reshard(self) -> bool:
        wanted = max(1, math.ceil(len(self.members) / self._shard_size))
        if wanted == len(self.shards):
            return False
        self.shards = [_Members() for _ in range(wanted)]
        for node_id in self.members.items():
            self.shards[self.shard_of(node_id)].add(node_id)
        return True


class LanguageIndex:
    def __init__(
        self, rng: random.Random | None = None, shard_size: int = DEFAULT_SHARD_SIZE
    ) -> None:
        self._rng = rng or random.Random()
        self._shard_size = shard_size
        self._nodes: dict[str, NodeEntry] = {}
        self._node_versions: dict[str, int] = {}
        self._pools: dict[Pair, _PairPools] = {}
        # Unordered pair (sorted) -> the nodes serving it in both directions.
        self._both: dict[Pair, _PairPools] = {}
        self.version = 0

    def apply(self, node_id: str, entry: NodeEntry | None, version: int) -> bool:
        """Apply a node's full entry at an index version; older versions are ignored."""
        if version <= self._node_versions.get(node_id, 0):
            return False
        self._node_versions[node_id] = version
        self.version = max(self.version, version)
        old = self._nodes.pop(node_id, None)
        before = old.pairs if old is not None else frozenset()
        after = entry.pairs if entry is not None else frozenset()
        if entry is not None:
            self._nodes[node_id] = entry
        # Only the pools that change are touched (a heartbeat's new ready types touch none).
        self._leave(self._pools, before - after, node_id)
        self._join(self._pools, after - before, node_id)
        both_before, both_after = both_ways_pairs(before), both_ways_pairs(after)
        self._leave(self._both, both_before - both_after, node_id)
        self._join(self._both, both_after - both_before, node_id)
        return True

    def _join(self, table: dict[Pair, _PairPools], pairs: Iterable[Pair], node_id: str) -> None:
        for pair in pairs:
            pools = table.get(pair)
            if pools is None:
                pools = table[pair] = _PairPools(self._shard_size)
            pools.add(node_id)

    @staticmethod
    def _leave(table: dict[Pair, _PairPools], pairs: Iterable[Pair], node_id: str) -> None:
        for pair in pairs:
            pools = table.get(pair)
            if pools is not None:
                pools.discard(node_id)
                if not pools.members:
                    del table[pair]

    def _table(self, both_ways: bool) -> dict[Pair, _PairPools]:
        return self._both if both_ways else self._pools

    def clear(self) -> None:
        self._nodes.clear()
        self._node_versions.clear()
        self._pools.clear()
        self._both.clear()
        self.version = 0

    def entries(self) -> list[tuple[str, NodeEntry]]:
        return list(self._nodes.items())

    def entry(self, node_id: str) -> NodeEntry | None:
        return self._nodes.get(node_id)

    def shard_count(self, pair: Pair, both_ways: bool = False) -> int:
        pools = self._table(both_ways).get(pair)
        return len(pools.shards) if pools else 0

    def shard_of(self, pair: Pair, node_id: str, both_ways: bool = False) -> int:
        pools = self._table(both_ways).get(pair)
        return pools.shard_of(node_id) if pools else 0

    def candidates(
        self,
        pair: Pair,
        required: Iterable[str] = (),
        exclude: Iterable[str] = (),
        limit: int = 8,
        preferred_shard: int | None = None,
        both_ways: bool = False,
    ) -> list[str]:
        """Up to `limit` distinct eligible members, uniformly at random: from the
        preferred shard first when one is given, then from the whole pair. With
        `both_ways`, the members serving the (sorted) pair in both directions."""
        pools = self._table(both_ways).get(pair)
        if pools is None:
            return []
        required_set = frozenset(required)
        excluded = set(exclude)

        def eligible(node_id: str) -> bool:
            return node_id not in excluded and required_set <= self._nodes[node_id].ready

        picked: list[str] = []
        if preferred_shard is not None and 0 <= preferred_shard < len(pools.shards):
            picked = self._sample(pools.shards[preferred_shard].items(), eligible, limit)
            if len(picked) == limit:
                return picked
            excluded.update(picked)
        return picked + self._sample(pools.members.items(), eligible, limit - len(picked))

    def _sample(self, items: list[str], eligible: Callable[[str], bool], limit: int) -> list[str]:
        if limit <= 0 or not items:
            return []
        if len(items) <= limit * 4:
            pool = [n for n in items if eligible(n)]
            self._rng.shuffle(pool)
            return pool[:limit]
        # Large pool: random probes instead of a full scan...
        picked: dict[str, None] = {}
        for _ in range(limit * 8):
            node_id = items[self._rng.randrange(len(items))]
            if node_id not in picked and eligible(node_id):
                picked[node_id] = None
                if len(picked) == limit:
                    return list(picked)
        # ...unless most members are filtered out: then one pass from a random offset.
        start = self._rng.randrange(len(items))
        for offset in range(len(items)):
            node_id = items[(start + offset) % len(items)]
            if node_id not in picked and eligible(node_id):
                picked[node_id] = None
                if len(picked) == limit:
                    break
        return list(picked)

    def pools(self) -> dict[tuple[Pair, int], list[str]]:
        """Every shard of every pair, with its sorted members."""
        return {
            (pair, i): sorted(shard.items())
            for pair, pools in self._pools.items()
            for i, shard in enumerate(pools.shards)
        }

    def members(self, pair: Pair, shard: int | None = None, both_ways: bool = False) -> list[str]:
        pools = self._table(both_ways).get(pair)
        if pools is None:
            return []
        if shard is None:
            return sorted(pools.members.items())
        if not 0 <= shard < len(pools.shards):
            return []
        return sorted(pools.shards[shard].items())

    def node_ids(self) -> list[str]:
        return list(self._nodes)
