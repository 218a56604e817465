"""Redis access of the gateway: session state, owner records, replica registration.

Session opens and closes come in bursts (thousands of sockets dropping at once when a
load balancer restarts); at most `concurrency` of them use Redis at a time, the rest
wait their turn instead of exhausting the shared connection pool.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

CLOSED_SESSION_RETENTION_MS = 3600 * 1000
OWNER_REFRESH_BATCH = 1000


class RedisGatewayStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        gateway_id: str,
        owner_ttl_ms: int,
        concurrency: int = 64,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._gateway_id = gateway_id
        self._owner_ttl_ms = owner_ttl_ms
        self._sessions_gate = asyncio.Semaphore(max(1, concurrency))

    async def open_session(
        self, session_id: str, src: str, tgt: str, tenant: str, now_ms: int, ttl_ms: int
    ) -> int:
        k = self._keys
        async with self._sessions_gate:
            version = await self._lua.run(
                "session_open",
                [k.session(session_id), k.session_owner(session_id)],
                [
                    now_ms,
                    src,
                    tgt,
                    self._gateway_id,
                    self._owner_ttl_ms,
                    ttl_ms,
                    tenant,
                    k.session_channel(),
                ],
            )
        return int(version)

    async def close_session(self, session_id: str, now_ms: int) -> bool:
        k = self._keys
        async with self._sessions_gate:
            closed = await self._lua.run(
                "session_close",
                [k.session(session_id), k.session_owner(session_id)],
                [now_ms, self._gateway_id, CLOSED_SESSION_RETENTION_MS, k.session_channel()],
            )
        return int(closed) == 1

    async def refresh_owners(self, session_ids: list[str]) -> None:
        """Keep this replica's owner records alive while it holds the sockets."""
        for first in range(0, len(session_ids), OWNER_REFRESH_BATCH):
            pipe = self._r.pipeline(transaction=False)
            for session_id in session_ids[first : first + OWNER_REFRESH_BATCH]:
                pipe.pexpire(self._keys.session_owner(session_id), self._owner_ttl_ms)
            await pipe.execute()

    async def dispatcher_addresses(self, now_ms: int) -> list[str]:
        """The dispatcher replicas alive now (each advertises "replica_id address")."""
        members = await self._r.zrangebyscore(self._keys.dispatchers(), now_ms, "+inf")
        latest: dict[str, str] = {}
        for member in members:  # ascending expiry: a replica's newest address wins
            replica_id, _, address = member.decode().partition(" ")
            if address:
                latest[replica_id] = address
        return sorted(set(latest.values()))

    async def advertise(self, address: str) -> None:
        await self._r.set(self._keys.gateway(self._gateway_id), address, px=self._owner_ttl_ms)

    async def withdraw(self) -> None:
        await self._r.delete(self._keys.gateway(self._gateway_id))
