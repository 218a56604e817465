"""Keeping the pool index in step with node records, off the request path.

Updates are queued per node (only the newest matters: each is the node's full entry)
and sent in batches (one ApplyNodeChanges call and one Redis round trip at the pool for
up to BATCH_SIZE nodes), a few batches under way at once, retried with back-off while
the pool is unreachable. Each carries the record's index_seq, so the pool refuses one
that arrives after a newer one: batches may overlap and land in any order, and an
update never waits for a whole round of others to finish. A reconcile pass
re-sends whatever the pool is behind on (a registry that crashed with updates still
queued loses nothing for long).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from lingua.common.v1 import node_pb2
from lingua_common.background import BackgroundTasks
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
        self._in_flight = 0
        self._delay = RETRY_INITIAL_S
        self._retry_at = 0.0
        self._batches = BackgroundTasks()

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
        gate = asyncio.Semaphore(CONCURRENCY)
        loop = asyncio.get_running_loop()
        try:
            await self._feed(gate, loop)
        finally:
            await self._batches.cancel()  # stopping: the reconcile pass re-sends them

    async def _feed(self, gate: asyncio.Semaphore, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            if not self._pending:
                await self._wakeup.wait()
            self._wakeup.clear()
            backoff = self._retry_at - loop.time()
            if backoff > 0:
                await asyncio.sleep(backoff)
            await gate.acquire()
            batch = self._take(BATCH_SIZE)
            if not batch:
                gate.release()
                continue
            self._in_flight += 1
            self._batches.spawn(self._send(batch, gate))

    def _take(self, limit: int) -> list[IndexUpdate]:
        return [self._pending.pop(node_id) for node_id in list(islice(self._pending, limit))]

    async def _send(self, batch: list[IndexUpdate], gate: asyncio.Semaphore) -> None:
        try:
            await self._pool.apply(batch)
        except Exception as error:
            reraise_if_cancelling()
            logger.warning(
                "index updates failed; will retry",
                extra={"nodes": len(batch), "error": repr(error)},
            )
            for update in batch:
                self.submit(update)  # a newer update queued meanwhile wins
            self._retry_at = asyncio.get_running_loop().time() + self._delay
            self._delay = min(self._delay * 2, RETRY_MAX_S)
        else:
            self._delay = RETRY_INITIAL_S
        finally:
            gate.release()
            self._in_flight -= 1
            if not self._pending and not self._in_flight:
                self._idle.set()
