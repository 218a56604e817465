"""The node event feed (events:nodes), in order per node, partly off the request path.

A registration's event is written after the ack has gone (the node need not wait for
the operators' feed). Any later event of the same node from this replica waits for it,
so the feed shows each node's events in the order they happened here. Writes in the
background are bounded: past the bound, the caller waits for its own write.
"""

from __future__ import annotations

import asyncio
import logging

from services.registry.model import NodeEvent
from services.registry.store import RedisRegistryStore

logger = logging.getLogger(__name__)

MAX_BACKGROUND_WRITES = 1_000


class EventFeed:
    def __init__(self, store: RedisRegistryStore) -> None:
        self._store = store
        self._later: dict[str, asyncio.Task[None]] = {}  # node id -> its last such write

    async def append_soon(self, event: NodeEvent) -> None:
        """Write the event in the background (or now, when too many are under way)."""
        if len(self._later) >= MAX_BACKGROUND_WRITES:
            await self.append([event])
            return
        task = asyncio.create_task(self._write_after(self._later.get(event.node_id), event))
        self._later[event.node_id] = task
        task.add_done_callback(lambda done: self._forget(event.node_id, done))

    async def append(self, events: list[NodeEvent]) -> None:
        """Write the events now (in one round trip), after any of theirs still under way."""
        earlier = {self._later[e.node_id] for e in events if e.node_id in self._later}
        if earlier:
            await asyncio.wait(earlier)
        await self._store.append_events(events)

    async def flush(self) -> None:
        """Wait for every background write (on shutdown)."""
        while self._later:
            await asyncio.wait(set(self._later.values()))

    async def _write_after(self, earlier: asyncio.Task[None] | None, event: NodeEvent) -> None:
        if earlier is not None:
            await asyncio.wait({earlier})
        try:
            await self._store.append_events([event])
        except Exception:
            # The feed is for watchers; the node's record already holds the truth.
            logger.exception(
                "node event not written", extra={"node_id": event.node_id, "kind": event.kind}
            )

    def _forget(self, node_id: str, task: asyncio.Task[None]) -> None:
        if self._later.get(node_id) is task:
            del self._later[node_id]
