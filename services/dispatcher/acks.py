"""The Redis work that gateways' acknowledgements cause, batched.

An acknowledged assignment was delivered to its node's socket: its attempt is confirmed
(the deadline moves from the short reservation to the result deadline). An acknowledged
answer reached its session's gateway: the job's timer is disarmed. Acknowledgements
arrive many to a frame; the work of one turn of the event loop goes to Redis in one
round trip per kind, and is tried again (bounded) when Redis is briefly away — a confirm
that never happens only costs a retry of the attempt when its reservation runs out, a
timer left armed only a second delivery of an answer the session drops.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from lingua_common.background import BackgroundTasks
from lingua_common.clock import Clock
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)

ATTEMPTS = 5
BACKOFF_S = 0.1


class AckWork:
    def __init__(
        self,
        store: RedisJobStore,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._confirms: list[tuple[str, str, int]] = []
        self._disarms: list[str] = []
        self._scheduled = False
        self._background = BackgroundTasks()

    def delivered(self, job_id: str, node_id: str, attempt: int) -> None:
        self._confirms.append((job_id, node_id, attempt))
        self._kick()

    def disarm(self, job_id: str) -> None:
        self._disarms.append(job_id)
        self._kick()

    def _kick(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._background.spawn(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # what the rest of this turn acknowledges goes along
        self._scheduled = False
        confirms, self._confirms = self._confirms, []
        disarms, self._disarms = self._disarms, []
        for attempt in range(1, ATTEMPTS + 1):
            now = self._clock.now_ms()
            try:
                confirmed = await self._store.confirm_and_disarm(
                    confirms, disarms, now_ms=now, due_ms=now + self._settings.job_timeout_ms
                )
            except RedisError as error:
                if attempt == ATTEMPTS:
                    logger.warning(
                        "acknowledgements not recorded",
                        extra={
                            "confirms": len(confirms),
                            "disarms": len(disarms),
                            "error": str(error),
                        },
                    )
                    return
                await asyncio.sleep(BACKOFF_S * attempt)
                continue
            stale = sum(1 for done in confirmed if done is None)
            if stale:
                # The attempt finished or moved on before its delivery was confirmed.
                logger.debug("stale delivery confirmations", extra={"count": stale})
            return

    async def wait(self, timeout_s: float) -> None:
        """Until the work under way is done (on shutdown)."""
        await self._background.wait(timeout_s)
