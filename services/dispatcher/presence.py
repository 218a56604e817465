"""This replica's presence: advertised in Redis so every gateway links to it, and the
outboxes of gateways that stopped linking (and are gone from Redis) dropped."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from lingua_common.clock import Clock
from services.dispatcher.links import GatewayLinks
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.store import RedisJobStore

logger = logging.getLogger(__name__)


def member_of(replica_id: str, address: str) -> str:
    return f"{replica_id} {address}"


class Presence:
    def __init__(
        self,
        store: RedisJobStore,
        links: GatewayLinks,
        clock: Clock,
        settings: DispatcherSettings,
    ) -> None:
        self._store = store
        self._links = links
        self._clock = clock
        self._settings = settings
        self._member = ""

    async def advertise(self, address: str) -> None:
        """Before the first gateway can know of this replica (at start)."""
        self._member = member_of(self._settings.replica_id, address)
        await self._store.advertise(
            self._member, now_ms=self._clock.now_ms(), ttl_ms=self._settings.advertise_ttl_ms
        )

    async def run(self) -> None:
        interval_s = self._settings.advertise_ttl_ms / 3000
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.advertise_again()
                await self.prune_once()
            except RedisError as error:
                logger.warning("presence not refreshed", extra={"error": str(error)})

    async def advertise_again(self) -> None:
        if self._member:
            await self._store.advertise(
                self._member, now_ms=self._clock.now_ms(), ttl_ms=self._settings.advertise_ttl_ms
            )

    async def prune_once(self) -> int:
        """Drop the outboxes of gateways away too long and no longer advertised: the
        answers in them are told again by their jobs' timers, to nobody, then given up."""
        dropped = 0
        for gateway_id in self._links.away_longer_than(self._settings.gateway_away_ms / 1000):
            if not await self._store.gateway_advertised(gateway_id):
                messages = self._links.drop(gateway_id)
                dropped += 1
                logger.info(
                    "gateway gone: its outbox dropped",
                    extra={"gateway_id": gateway_id, "messages": messages},
                )
        return dropped

    async def withdraw(self) -> None:
        if self._member:
            await self._store.withdraw(self._member)
