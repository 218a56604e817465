"""Attempts whose node connection ended: given up at once, not at their deadlines.

An agent drops the jobs of a socket that closed (a result cannot outlive its
connection), so waiting for the attempt's result deadline only delays the answer. Two
signs that a connection ended reach this replica over the links: its gateway says the
socket closed (node_lost), or the node registered again under a newer epoch
(node_held) — the only sign left when the gateway holding the old socket died.

Every replica linked to the gateway hears the same news; the give-up is fenced by node
and attempt (job_abandon.lua), so the first one moves each job and the others find
nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from lingua_common.background import BackgroundTasks

logger = logging.getLogger(__name__)

# Connections being looked at once, at most; news beyond is dropped (the attempts'
# own deadlines still move them).
MAX_IN_FLIGHT = 1024
# Connections given up at once: a gateway that goes away takes its thousand nodes
# with it, and a thousand give-ups at once would take every pooled Redis connection
# from the job path (each is a few commands, so a few at once drain them fast).
GIVE_UPS_AT_ONCE = 8


class FailsOver(Protocol):
    """What gives attempts up (Recovery)."""

    async def fail_over(
        self,
        node_id: str,
        cause: str = "",
        *,
        under: Callable[[int], bool] | None = None,
        wait_for_a_node_ms: int = 0,
    ) -> int: ...


class LostConnections:
    def __init__(self, recovery: FailsOver, grace_ms: int, wait_for_a_node_ms: int) -> None:
        self._recovery = recovery
        self._grace_s = grace_ms / 1000
        # The node is likely back soon under a new connection: its jobs wait for it.
        self._wait_for_a_node_ms = wait_for_a_node_ms
        self._looking: set[tuple[str, int, bool]] = set()
        self._gate = asyncio.Semaphore(GIVE_UPS_AT_ONCE)
        self._background = BackgroundTasks()

    def lost(self, node_id: str, epoch: int) -> None:
        """The node's socket of this epoch closed."""
        self._look(node_id, epoch, replaced=False)

    def held(self, node_id: str, epoch: int) -> None:
        """The node holds a socket of this epoch: any older connection of it ended."""
        self._look(node_id, epoch, replaced=True)

    async def wait(self, timeout_s: float) -> None:
        await self._background.wait(timeout_s)

    async def close(self) -> None:
        """On shutdown: what is left is moved by the attempts' own deadlines."""
        await self._background.cancel()

    def _look(self, node_id: str, epoch: int, *, replaced: bool) -> None:
        key = (node_id, epoch, replaced)
        if key in self._looking or len(self._looking) >= MAX_IN_FLIGHT:
            return
        self._looking.add(key)
        self._background.spawn(self._give_up(key))

    async def _give_up(self, key: tuple[str, int, bool]) -> None:
        node_id, epoch, replaced = key
        try:
            await asyncio.sleep(self._grace_s)
            async with self._gate:
                moved = await self._recovery.fail_over(
                    node_id,
                    under=(lambda e: e < epoch) if replaced else (lambda e: e == epoch),
                    wait_for_a_node_ms=self._wait_for_a_node_ms,
                )
            if moved:
                logger.info(
                    "attempts of an ended node connection given up",
                    extra={"node_id": node_id, "epoch": epoch, "jobs": moved},
                )
        except Exception:
            # Redis away: the attempts' own deadlines move them.
            logger.warning(
                "attempts of an ended node connection not given up",
                extra={"node_id": node_id, "epoch": epoch},
                exc_info=True,
            )
        finally:
            self._looking.discard(key)
