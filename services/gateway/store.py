"""Redis access of the gateway: session state, owner records, replica registration."""

from __future__ import annotations

from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

CLOSED_SESSION_RETENTION_MS = 3600 * 1000


class RedisGatewayStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        gateway_id: str,
        owner_ttl_ms: int,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._gateway_id = gateway_id
        self._owner_ttl_ms = owner_ttl_ms

    async def open_session(
        self, session_id: str, src: str, tgt: str, tenant: str, now_ms: int, ttl_ms: int
    ) -> int:
        k = self._keys
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
        closed = await self._lua.run(
            "session_close",
            [k.session(session_id), k.session_owner(session_id)],
            [now_ms, self._gateway_id, CLOSED_SESSION_RETENTION_MS, k.session_channel()],
        )
        return int(closed) == 1

    async def refresh_owners(self, session_ids: list[str]) -> None:
        """Keep this replica's owner records alive while it holds the sockets."""
        if not session_ids:
            return
        pipe = self._r.pipeline(transaction=False)
        for session_id in session_ids:
            pipe.pexpire(self._keys.session_owner(session_id), self._owner_ttl_ms)
        await pipe.execute()

    async def advertise(self, address: str) -> None:
        await self._r.set(self._keys.gateway(self._gateway_id), address, px=self._owner_ttl_ms)

    async def withdraw(self) -> None:
        await self._r.delete(self._keys.gateway(self._gateway_id))
