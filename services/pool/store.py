"""Redis access of the pool index: one hash of node entries, a version, a change feed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient


@dataclass(frozen=True)
class FeedEntry:
    feed_id: str
    version: int
    node_id: str
    entry: bytes  # b"" when the node was removed


@dataclass(frozen=True)
class Snapshot:
    feed_id: str  # the feed position the snapshot is at least as new as
    version: int
    entries: dict[str, bytes]


class RedisPoolStore:
    def __init__(self, client: RedisClient, scripts: LuaScripts, keys: Keys, feed_maxlen: int):
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._feed_maxlen = feed_maxlen

    def _index_keys(self) -> list[str]:
        k = self._keys
        return [k.index_nodes(), k.index_version(), k.index_changes()]

    async def put(self, node_id: str, entry: bytes, index_seq: int) -> tuple[bool, int, bool]:
        """Store a node's entry (b"" removes it) unless a newer update was applied.

        Returns (changed, index version, accepted)."""
        changed, version, accepted = await self._lua.run(
            "index_upsert",
            [*self._index_keys(), self._keys.index_seqs()],
            [node_id, entry, self._feed_maxlen, index_seq],
        )
        return int(changed) == 1, int(version), int(accepted) == 1

    async def put_many(self, changes: list[tuple[str, bytes, int]]) -> list[tuple[bool, int, bool]]:
        """put() for many nodes in one round trip: (node id, entry, index_seq) each, in
        order. Any Redis error fails the whole call (each put is idempotent: retry it)."""
        keys = [*self._index_keys(), self._keys.index_seqs()]
        replies = await self._lua.run_many(
            "index_upsert",
            [(keys, [node_id, entry, self._feed_maxlen, seq]) for node_id, entry, seq in changes],
        )
        results = []
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            changed, version, accepted = reply
            results.append((int(changed) == 1, int(version), int(accepted) == 1))
        return results

    async def snapshot(self) -> Snapshot:
        reply = await self._lua.run("index_snapshot", self._index_keys(), [])
        flat = reply[2:]
        return Snapshot(
            feed_id=_text(reply[1]),
            version=int(reply[0]),
            entries={_text(flat[i]): bytes(flat[i + 1]) for i in range(0, len(flat), 2)},
        )

    async def read_feed(self, after_id: str, block_ms: int, count: int) -> list[FeedEntry]:
        reply = await self._r.xread(
            {self._keys.index_changes(): after_id}, count=count, block=block_ms
        )
        return [_entry(i, f) for _s, entries in reply or [] for i, f in entries]

    async def feed_after(self, version: int, count: int) -> list[FeedEntry]:
        """Feed entries with a version above `version` (entry ids are "<version>-0")."""
        entries = await self._r.xrange(self._keys.index_changes(), min=f"({version}-0", count=count)
        return [_entry(i, f) for i, f in entries]

    async def oldest_version(self) -> int | None:
        first = await self._r.xrange(self._keys.index_changes(), count=1)
        return _entry(*first[0]).version if first else None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(feed_id: bytes, fields: dict[bytes, bytes]) -> FeedEntry:
    return FeedEntry(
        feed_id=feed_id.decode(),
        version=int(fields[b"v"]),
        node_id=fields[b"node"].decode(),
        entry=fields.get(b"entry", b""),
    )
