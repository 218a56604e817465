"""Pool-index logic: keep the in-memory index equal to Redis, answer lookups from memory.

Every replica applies the shared change feed, so an upsert through any replica is
seen by all; a restarted replica rebuilds from the snapshot plus the feed after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from lingua.common.v1 import node_pb2
from services.pool.index import LanguageIndex, NodeEntry
from services.pool.pairs import Pair, directed_pairs
from services.pool.store import FeedEntry, RedisPoolStore

logger = logging.getLogger(__name__)

WATCH_QUEUE_SIZE = 1024


@dataclass(frozen=True)
class IndexChange:
    version: int
    node_id: str
    entry: NodeEntry | None


class ResyncRequired(Exception):
    """A watcher fell behind the feed's retained history."""


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
        self.loaded = asyncio.Event()

    async def load(self) -> None:
        snapshot = await self._store.snapshot()
        for node_id, raw in snapshot.entries.items():
            self.index.apply(node_id, decode_entry(raw), snapshot.version)
        self.index.version = max(self.index.version, snapshot.version)
        self._feed_id = snapshot.feed_id
        self.loaded.set()
        logger.info(
            "index loaded", extra={"nodes": len(snapshot.entries), "version": snapshot.version}
        )

    async def upsert_node(
        self, node_id: str, caps: node_pb2.LanguageCapabilities, ready: Iterable[str]
    ) -> tuple[frozenset[Pair], int, bool]:
        entry = NodeEntry(pairs=directed_pairs(caps), ready=frozenset(ready))
        changed, version = await self._store.put(node_id, encode_entry(entry))
        if changed:
            self._apply(IndexChange(version, node_id, entry))
        return entry.pairs, version, changed

    async def remove_node(self, node_id: str) -> int:
        changed, version = await self._store.put(node_id, b"")
        if changed:
            self._apply(IndexChange(version, node_id, None))
        return version

    def find(
        self, pair: Pair, required: Iterable[str], exclude: Iterable[str], limit: int
    ) -> list[str]:
        return self.index.candidates(pair, required, exclude, limit)

    async def follow_feed(self, block_ms: int = 1000) -> None:
        """Apply changes made through other replicas (and replay our own, harmlessly)."""
        while True:
            for item in await self._store.read_feed(self._feed_id, block_ms, 500):
                self._feed_id = item.feed_id
                self._apply(_change(item))

    def _apply(self, change: IndexChange) -> None:
        if not self.index.apply(change.node_id, change.entry, change.version):
            return
        for queue in list(self._watchers):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                # A watcher that cannot keep up is told to resync rather than fed stale data.
                self._watchers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

    def watch(self) -> asyncio.Queue[IndexChange | None]:
        queue: asyncio.Queue[IndexChange | None] = asyncio.Queue(WATCH_QUEUE_SIZE)
        self._watchers.add(queue)
        return queue

    def unwatch(self, queue: asyncio.Queue[IndexChange | None]) -> None:
        self._watchers.discard(queue)

    async def history_after(self, after_version: int) -> list[IndexChange]:
        """Changes with a version above `after_version` still kept in the feed."""
        changes: list[IndexChange] = []
        cursor = "0-0"
        first = True
        while True:
            batch = await self._store.feed_range(cursor, 1000)
            if not batch:
                break
            if first and batch[0].version > after_version + 1 and after_version > 0:
                raise ResyncRequired
            first = False
            changes.extend(_change(i) for i in batch if i.version > after_version)
            cursor = batch[-1].feed_id
        return changes


def _change(item: FeedEntry) -> IndexChange:
    return IndexChange(item.version, item.node_id, decode_entry(item.entry))
