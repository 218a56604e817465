"""Keeping the pool index in step with node records, off the request path.

Updates are queued per node (only the newest matters: each is the node's full entry)
and applied by one worker with bounded concurrency, retried with back-off while the
pool is unreachable. Each carries the record's index_seq, so the pool refuses one that
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

CONCURRENCY = 32
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
            batch, self._pending = list(self._pending.values()), {}
            results = await asyncio.gather(*(self._apply(u, gate) for u in batch))
            failed = [u for u, ok in zip(batch, results, strict=True) if not ok]
            for update in failed:
                self.submit(update)
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            else:
                delay = RETRY_INITIAL_S

    async def _apply(self, update: IndexUpdate, gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                if update.language_caps is None:
                    await self._pool.remove(update.node_id, update.index_seq)
                else:
                    await self._pool.upsert(
                        update.node_id,
                        update.language_caps,
                        list(update.ready_types),
                        update.index_seq,
                    )
            except Exception as error:
                reraise_if_cancelling()
                logger.warning(
                    "index update failed; will retry",
                    extra={"node_id": update.node_id, "error": repr(error)},
                )
                return False
            return True
