"""Pool-index logic: keep the in-memory index equal to Redis, answer lookups from memory.

Memory changes only by following the shared change feed, in version order, so the
index version is always a consistent prefix of the feed: every replica (and every
watcher that resumes "after version v") sees exactly the same sequence. A write waits
until the follower has applied it, so a caller reads its own writes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from lingua.common.v1 import node_pb2
from lingua_common.language_index import LanguageIndex, NodeEntry, Pair
from services.pool.pairs import directed_pairs
from services.pool.store import FeedEntry, RedisPoolStore

logger = logging.getLogger(__name__)

WATCH_QUEUE_SIZE = 4096
APPLY_WAIT_S = 5.0


@dataclass(frozen=True)
class IndexChange:
    version: int
    node_id: str
    entry: NodeEntry | None


@dataclass(frozen=True)
class NodeUpdate:
    """A node's entry as the registry recorded it; caps None removes the node."""

    node_id: str
    index_seq: int
    caps: node_pb2.LanguageCapabilities | None
    ready: tuple[str, ...] = ()


class ResyncRequired(Exception):
    """The feed no longer reaches back to the watcher's version."""


def encode_entry(entry: NodeEntry) -> bytes:
    # Sorted, so equal entries are equal bytes (the store compares bytes).
    return orjson.dumps({"pairs": sorted(entry.pairs), "ready": sorted(entry.ready)})


def decode_entry(raw: bytes) -> NodeEntry | None:
    if not raw:
        return None
    data = orjson.loads(raw)
    return NodeEntry(
        pairs=frozenset((p[0], p[1]) for p in data["pairs"]),
        ready=frozenset(data["ready"]),
    )


class PoolDirectory:
    def __init__(self, store: RedisPoolStore, index: LanguageIndex) -> None:
        self._store = store
        self.index = index
        self._feed_id = "0-0"
        self._watchers: set[asyncio.Queue[IndexChange | None]] = set()
        self._applied = asyncio.Condition()

    async def load(self) -> None:
        snapshot = await self._store.snapshot()
        self.index.clear()
        for node_id, raw in snapshot.entries.items():
            self.index.apply(node_id, decode_entry(raw), snapshot.version)
        self.index.version = snapshot.version
        self._feed_id = snapshot.feed_id
        logger.info(
            "index loaded", extra={"nodes": len(snapshot.entries), "version": snapshot.version}
        )

    async def reload(self) -> None:
        """Redis lost its data: the index is what Redis holds now (empty, then filled as
        the registry indexes the nodes its gateways reclaim), followed from the start of
        the new change feed; every watcher starts over from a fresh snapshot (their
        versions belong to the lost index)."""
        await self.load()  # its feed position too: the new feed's, from the snapshot
        for queue in list(self._watchers):
            self._watchers.discard(queue)
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)
        async with self._applied:
            self._applied.notify_all()

    async def upsert_node(
        self,
        node_id: str,
        caps: node_pb2.LanguageCapabilities,
        ready: Iterable[str],
        index_seq: int,
    ) -> tuple[frozenset[Pair], int, bool, bool]:
        """Returns (pairs, index version, changed, accepted)."""
        entry = NodeEntry(pairs=directed_pairs(caps), ready=frozenset(ready))
        changed, version, accepted = await self._store.put(node_id, encode_entry(entry), index_seq)
        if changed:
            await self._wait_applied(version)
        return entry.pairs, version, changed, accepted

    async def remove_node(self, node_id: str, index_seq: int) -> tuple[int, bool]:
        """Returns (index version, accepted)."""
        changed, version, accepted = await self._store.put(node_id, b"", index_seq)
        if changed:
            await self._wait_applied(version)
        return version, accepted

    async def apply_changes(self, changes: list[NodeUpdate]) -> tuple[list[tuple[bool, bool]], int]:
        """Many nodes' entries in one round trip; returns ((changed, accepted) per change,
        the index version after them)."""
        puts = [
            (
                c.node_id,
                b""
                if c.caps is None
                else encode_entry(
                    NodeEntry(pairs=directed_pairs(c.caps), ready=frozenset(c.ready))
                ),
                c.index_seq,
            )
            for c in changes
        ]
        results = await self._store.put_many(puts)
        version = max((v for _, v, _ in results), default=self.index.version)
        if any(changed for changed, _, _ in results):
            await self._wait_applied(version)
        return [(changed, accepted) for changed, _, accepted in results], version

    async def _wait_applied(self, version: int) -> None:
        async with self._applied:
            await asyncio.wait_for(
                self._applied.wait_for(lambda: self.index.version >= version), APPLY_WAIT_S
            )

    def find(
        self, pair: Pair, required: Iterable[str], exclude: Iterable[str], limit: int
    ) -> list[str]:
        return self.index.candidates(pair, required, exclude, limit)

    async def follow_feed(self, block_ms: int = 1000) -> None:
        """Apply every change (ours and other replicas') in feed order."""
        while True:
            batch = await self._store.read_feed(self._feed_id, block_ms, 500)
            if not batch:
                continue
            for item in batch:
                self._feed_id = item.feed_id
                self._apply(_change(item))
            async with self._applied:
                self._applied.notify_all()

    def _apply(self, change: IndexChange) -> None:
        self.index.apply(change.node_id, change.entry, change.version)
        self.index.version = max(self.index.version, change.version)
        for queue in list(self._watchers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # A watcher that cannot keep up gets a fresh snapshot, never a gap.
                self._watchers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def snapshot(self) -> tuple[int, list[IndexChange]]:
        version = self.index.version
        return version, [
            IndexChange(version, node_id, entry) for node_id, entry in self.index.entries()
        ]

    def watch(self) -> asyncio.Queue[IndexChange | None]:
        queue: asyncio.Queue[IndexChange | None] = asyncio.Queue(WATCH_QUEUE_SIZE)
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[IndexChange | None]) -> None:
        self._watchers.discard(queue)

    async def history_after(self, after_version: int) -> list[IndexChange]:
        """Changes after `after_version` up to the applied version, if the feed still
        reaches back that far; otherwise the watcher needs a snapshot."""
        current = self.index.version
        if after_version > current:
            raise ResyncRequired  # the watcher saw another (e.g. a flushed) index
        if after_version == current:
            return []
        oldest = await self._store.oldest_version()
        if oldest is None or oldest > after_version + 1:
            raise ResyncRequired
        changes: list[IndexChange] = []
        cursor = after_version
        while cursor < current:
            batch = await self._store.feed_after(cursor, 1000)
            if not batch:
                break
            changes.extend(_change(i) for i in batch if i.version <= current)
            cursor = batch[-1].version
        return changes


def _change(item: FeedEntry) -> IndexChange:
    return IndexChange(item.version, item.node_id, decode_entry(item.entry))
