"""Keeping the pool index in step with node records, off the request path.

Updates are queued per node (only the newest matters: each is the node's full entry)
and sent by one worker in batches (one ApplyNodeChanges call and one Redis round trip
at the pool for up to BATCH_SIZE nodes), a few batches at a time, retried with back-off
while the pool is unreachable. Each carries the record's index_seq, so the pool refuses one that
arrives after a newer one. A reconcile pass re-sends whatever the pool is behind on
(a registry that crashed with updates still queued loses nothing for long).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from lingua.common.v1 import node_pb2
from lingua_common.cancellation import reraise_if_cancelling

logger = logging.getLogger(__name__)

BATCH_SIZE = 200  # a 10,000-node reconnect storm is 50 calls, not 10,000
CONCURRENCY = 4  # batches under way at once
RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 5.0


class PoolIndexer(Protocol):
    """The pool-index service as the registry uses it."""

    async def upsert(
        self,
        node_id: str,
        language_caps: node_pb2.LanguageCapabilities,
        ready_types: list[str],
        index_seq: int,
    ) -> None: ...

    async def remove(self, node_id: str, index_seq: int) -> None: ...

    async def apply(self, updates: list[IndexUpdate]) -> None:
        """Many updates in one call (each node at most once); raises if not applied."""
        ...


@dataclass(frozen=True)
class IndexUpdate:
    node_id: str
    index_seq: int
    # None removes the node from the index.
    language_caps: node_pb2.LanguageCapabilities | None
    ready_types: tuple[str, ...] = ()


class IndexSync:
    def __init__(self, pool: PoolIndexer) -> None:
        self._pool = pool
        self._pending: dict[str, IndexUpdate] = {}
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, update: IndexUpdate) -> None:
        current = self._pending.get(update.node_id)
        if current is None or update.index_seq > current.index_seq:
            self._pending[update.node_id] = update
        self._idle.clear()
        self._wakeup.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def run(self) -> None:
        delay = RETRY_INITIAL_S
        gate = asyncio.Semaphore(CONCURRENCY)
        while True:
            if not self._pending:
                self._idle.set()
                await self._wakeup.wait()
            self._wakeup.clear()
            updates, self._pending = list(self._pending.values()), {}
            batches = [updates[i : i + BATCH_SIZE] for i in range(0, len(updates), BATCH_SIZE)]
            results = await asyncio.gather(*(self._apply(b, gate) for b in batches))
            failed = [
                u for batch, ok in zip(batches, results, strict=True) if not ok for u in batch
            ]
            for update in failed:
                self.submit(update)  # a newer update queued meanwhile wins
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                delay = RETRY_INITIAL_S

    async def _apply(self, batch: list[IndexUpdate], gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                await self._pool.apply(batch)
            except Exception as error:
                reraise_if_cancelling()
                logger.warning(
                    "index updates failed; will retry",
                    extra={"nodes": len(batch), "error": repr(error)},
                )
                return False
            return True
