"""Redis access of the dispatcher: job records, node slots, owners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.dispatcher.model import Finished, JobRecord, JobState, NodeLoad


@dataclass(frozen=True)
class Created:
    created: bool
    trace_id: str
    state: JobState
    node_id: str
    attempt: int


class RequestIdClashError(Exception):
    """Two request ids hashed to one job id (astronomically unlikely; never silently merged)."""


class RedisJobStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        *,
        live_ttl_ms: int,
        retention_ms: int,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._live_ttl_ms = live_ttl_ms
        self._retention_ms = retention_ms

    async def create(
        self,
        job_id: str,
        *,
        now_ms: int,
        request_id: str,
        spec: bytes,
        trace_id: str,
        session_id: str,
        utterance_index: int,
        src_lang: str,
        tgt_lang: str,
        tenant_id: str,
        reply_to: str,
    ) -> Created:
        result = await self._lua.run(
            "job_create",
            [self._keys.job(job_id)],
            [
                now_ms,
                request_id,
                spec,
                trace_id,
                session_id,
                utterance_index,
                src_lang,
                tgt_lang,
                tenant_id,
                reply_to,
                self._live_ttl_ms,
            ],
        )
        head = int(result[0])
        if head < 0:
            raise RequestIdClashError(job_id)
        if head == 1:
            return Created(True, _text(result[1]), JobState.CREATED, "", 0)
        return Created(
            False, _text(result[4]), JobState(_text(result[1])), _text(result[2]), int(result[3])
        )

    async def assign(self, job_id: str, node_id: str, attempt: int, now_ms: int) -> bool:
        result = await self._lua.run(
            "job_assign", [self._keys.job(job_id)], [node_id, attempt, now_ms]
        )
        return int(result[0]) == 1

    async def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        now_ms: int,
        node_id: str = "",
        attempt: int = 0,
        result: bytes = b"",
        error_code: str = "",
        error_message: str = "",
    ) -> Finished | None:
        reply = await self._lua.run(
            "job_finish",
            [self._keys.job(job_id)],
            [
                now_ms,
                state.value,
                node_id,
                attempt,
                result,
                error_code,
                error_message,
                self._retention_ms,
            ],
        )
        if int(reply[0]) != 1:
            return None
        return Finished(
            session_id=_text(reply[1]),
            utterance_index=int(reply[2]),
            trace_id=_text(reply[3]),
            node_id=_text(reply[4]),
            attempt=int(reply[5]),
            reply_to=_text(reply[6]),
            dispatched_ms=int(reply[7] or 0),
        )

    async def get(self, job_id: str) -> JobRecord | None:
        fields = await self._r.hgetall(self._keys.job(job_id))
        return _record(job_id, fields) if fields else None

    async def reserve(self, node_id: str, job_id: str, attempt: int, now_ms: int) -> bool:
        k = self._keys
        result = await self._lua.run(
            "slot_reserve",
            [k.node(node_id), k.node_inflight(node_id)],
            [job_id, attempt, now_ms],
        )
        return int(result[0]) == 1

    async def release(
        self, node_id: str, job_id: str, attempt: int, *, outcome: str = "none", now_ms: int = 0
    ) -> bool:
        """Give the attempt's slot back; outcome "ok"/"fail" keeps the failure streak."""
        k = self._keys
        result = await self._lua.run(
            "slot_release",
            [k.node_inflight(node_id), k.node(node_id), k.node_history(node_id)],
            [job_id, attempt, outcome, now_ms],
        )
        return int(result[0]) == 1

    async def node_loads(self, node_ids: list[str]) -> list[NodeLoad]:
        """Status, running count and owner of several nodes in one round trip."""
        if not node_ids:
            return []
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        for node_id in node_ids:
            pipe.hmget(k.node(node_id), "status", "max_jobs")
            pipe.hlen(k.node_inflight(node_id))
            pipe.get(k.node_owner(node_id))
        replies = await pipe.execute()
        loads = []
        for i, node_id in enumerate(node_ids):
            (status, max_jobs), running, owner = replies[3 * i : 3 * i + 3]
            gateway, _, epoch = (owner or b"").decode().partition(" ")
            loads.append(
                NodeLoad(
                    node_id=node_id,
                    ready=status == b"ready",
                    running=int(running),
                    max_jobs=int(max_jobs or 0),
                    owner_gateway=gateway,
                    owner_epoch=int(epoch or 0),
                )
            )
        return loads

    async def node_owner(self, node_id: str) -> tuple[str, int]:
        owner = await self._r.get(self._keys.node_owner(node_id))
        gateway, _, epoch = (owner or b"").decode().partition(" ")
        return gateway, int(epoch or 0)

    async def session_owner(self, session_id: str) -> str:
        owner = await self._r.get(self._keys.session_owner(session_id))
        return owner.decode() if owner else ""

    async def gateway_address(self, gateway_id: str) -> str:
        address = await self._r.get(self._keys.gateway(gateway_id))
        return address.decode() if address else ""


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(job_id: str, fields: dict[bytes, bytes]) -> JobRecord:
    def text(name: str, default: str = "") -> str:
        raw = fields.get(name.encode())
        return default if raw is None else raw.decode()

    return JobRecord(
        job_id=job_id,
        request_id=text("request_id"),
        state=JobState(text("state", "created")),
        node_id=text("node_id"),
        attempt=int(text("attempt", "0")),
        trace_id=text("trace_id"),
        session_id=text("session_id"),
        utterance_index=int(text("utterance_index", "0")),
        src_lang=text("src"),
        tgt_lang=text("tgt"),
        tenant_id=text("tenant"),
        reply_to=text("reply_to"),
        created_ms=int(text("created_ms", "0")),
        updated_ms=int(text("updated_ms", "0")),
        dispatched_ms=int(text("dispatched_ms", "0")),
        error_code=text("error_code"),
        error_message=text("error_message"),
        spec=fields.get(b"spec", b""),
        result=fields.get(b"result", b""),
    )
