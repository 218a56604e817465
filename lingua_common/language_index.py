"""The language index held in memory: directed pair -> members, answered without I/O.

The pool-index service owns it; other services (the dispatcher) keep a replica of it,
fed by the pool's change feed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

Pair = tuple[str, str]


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


class LanguageIndex:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._nodes: dict[str, NodeEntry] = {}
        self._node_versions: dict[str, int] = {}
        self._pools: dict[Pair, _Members] = {}
        self.version = 0

    def apply(self, node_id: str, entry: NodeEntry | None, version: int) -> bool:
        """Apply a node's full entry at an index version; older versions are ignored."""
        if version <= self._node_versions.get(node_id, 0):
            return False
        self._node_versions[node_id] = version
        self.version = max(self.version, version)
        old = self._nodes.pop(node_id, None)
        if old is not None:
            for pair in old.pairs:
                members = self._pools.get(pair)
                if members is not None:
                    members.discard(node_id)
                    if not members:
                        del self._pools[pair]
        if entry is not None:
            self._nodes[node_id] = entry
            for pair in entry.pairs:
                self._pools.setdefault(pair, _Members()).add(node_id)
        return True

    def clear(self) -> None:
        self._nodes.clear()
        self._node_versions.clear()
        self._pools.clear()
        self.version = 0

    def entries(self) -> list[tuple[str, NodeEntry]]:
        return list(self._nodes.items())

    def entry(self, node_id: str) -> NodeEntry | None:
        return self._nodes.get(node_id)

    def candidates(
        self,
        pair: Pair,
        required: Iterable[str] = (),
        exclude: Iterable[str] = (),
        limit: int = 8,
    ) -> list[str]:
        """Up to `limit` distinct members of the pair, uniformly at random."""
        members = self._pools.get(pair)
        if members is None:
            return []
        required_set = frozenset(required)
        excluded = frozenset(exclude)

        def eligible(node_id: str) -> bool:
            return node_id not in excluded and required_set <= self._nodes[node_id].ready

        items = members.items()
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

    def pools(self) -> dict[Pair, list[str]]:
        return {pair: sorted(m.items()) for pair, m in self._pools.items()}

    def members(self, pair: Pair) -> list[str]:
        members = self._pools.get(pair)
        return sorted(members.items()) if members else []

    def node_ids(self) -> list[str]:
        return list(self._nodes)
