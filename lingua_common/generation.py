"""Noticing that Redis lost its data, so each service rebuilds what it had there.

Redis may come back empty: restarted without persistence (as `make up` runs it), a
failover to an empty replica, an operator's FLUSHALL. Nothing in the data says so; the
services would go on as if their records were there. So the first service to start
writes a *generation* (a random id) under several sentinel keys spread over the hash
slots (on a cluster, every master holds some), and every service checks them every
second: a sentinel that vanished, or a generation that changed, is a loss. The service
that notices writes the next generation (derived from the last, so all agree) and every
service runs its rebuild hooks once per loss.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from lingua_common.keys import Keys
from lingua_common.redis_client import RedisClient, run_pipeline

logger = logging.getLogger(__name__)

SENTINELS = 16
CHECK_INTERVAL_S = 1.0

RebuildHook = Callable[[], Awaitable[None]]


class DataGeneration:
    def __init__(
        self, client: RedisClient, keys: Keys, interval_s: float = CHECK_INTERVAL_S
    ) -> None:
        self._r: Any = client
        self._keys = [keys.generation(i) for i in range(SENTINELS)]
        self._interval_s = interval_s
        self._seen = ""
        self._hooks: list[RebuildHook] = []
        self.losses = 0

    def on_loss(self, hook: RebuildHook) -> None:
        """`hook` rebuilds what this service keeps in Redis; it runs once per loss."""
        self._hooks.append(hook)

    @property
    def current(self) -> str:
        return self._seen

    async def start(self) -> None:
        """Join the generation there is, or begin the first one."""

        def propose(pipe: Any) -> None:
            for key in self._keys:
                pipe.set(key, os.urandom(8).hex(), nx=True)

        await run_pipeline(self._r, propose)
        values = await self._read()
        self._seen = values[0]
        if any(v != self._seen for v in values):
            await self._write_all(self._seen)  # proposals that raced: one generation

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check_once()
            except RedisError as error:  # Redis away: a loss shows once it is back
                logger.debug("generation not checked", extra={"error": str(error)})

    async def check_once(self) -> bool:
        """True when a loss was noticed (and the rebuild hooks ran)."""
        values = await self._read()
        if all(v == self._seen for v in values):
            return False
        # Another service may have noticed first and moved to the next generation: follow
        # it. Otherwise this one moves on, to the successor every service computes alike.
        moved = [v for v in values if v and v != self._seen]
        generation = moved[0] if moved else successor(self._seen)
        await self._write_all(generation)
        logger.warning(
            "redis lost its data: rebuilding what this service keeps there",
            extra={"generation_was": self._seen, "generation": generation},
        )
        self._seen = generation
        self.losses += 1
        for hook in self._hooks:
            try:
                await hook()
            except Exception:
                logger.exception("rebuild after a data loss failed", extra={"hook": repr(hook)})
        return True

    async def _read(self) -> list[str]:
        def reads(pipe: Any) -> None:
            for key in self._keys:
                pipe.get(key)

        return [v.decode() if v else "" for v in await run_pipeline(self._r, reads)]

    async def _write_all(self, generation: str) -> None:
        def writes(pipe: Any) -> None:
            for key in self._keys:
                pipe.set(key, generation)

        await run_pipeline(self._r, writes)


def successor(generation: str) -> str:
    """The generation after `generation` (the same for every service that saw it)."""
    return hashlib.blake2b(generation.encode(), digest_size=8).hexdigest()
