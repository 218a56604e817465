"""Where a session's (and a turn's) next job should go first.

A session prefers the pool (shard of its pair) its last job ran in; a multi-part turn
prefers the node that ran its previous part (the original sent the halves of one long
turn to different nodes and lost the first). Both are hints: a full or dead preferred
pool or node is simply skipped, so affinity never sticks to a dead node.
"""

from __future__ import annotations

from collections import OrderedDict

from services.dispatcher.store import RedisJobStore


class _Lru:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class Affinity:
    def __init__(self, store: RedisJobStore, size: int) -> None:
        self._store = store
        self._sessions = _Lru(size)
        self._turns = _Lru(size)

    async def preferred_pool(self, session_id: str) -> str:
        if not session_id:
            return ""
        cached = self._sessions.get(session_id)
        if cached is None:
            # Once per session per dispatcher replica; the session record is shared.
            cached = await self._store.session_preferred_pool(session_id)
            self._sessions.put(session_id, cached)
        return cached

    async def placed(self, session_id: str, turn_key: str, pool_id: str, node_id: str) -> None:
        if turn_key:
            self._turns.put(turn_key, node_id)
        if session_id and pool_id and self._sessions.get(session_id) != pool_id:
            self._sessions.put(session_id, pool_id)
            await self._store.set_session_preferred_pool(session_id, pool_id)

    def turn_node(self, turn_key: str) -> str:
        return (self._turns.get(turn_key) or "") if turn_key else ""


def turn_key(session_id: str, turn_id: str) -> str:
    return f"{session_id}/{turn_id}" if turn_id else ""
