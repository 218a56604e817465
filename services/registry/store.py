"""Redis access of the registry. Every multi-key write is one cluster-safe Lua script."""

from __future__ import annotations

from typing import Any, Protocol

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient
from services.registry.model import BeatOutcome, Claim, NodeEvent, NodeRecord, NodeStatus


class StaleEpochError(Exception):
    """The caller's epoch was superseded by a newer registration of the node."""


class NodeOfflineError(Exception):
    """The node was marked offline; it must register again."""


class NodeIdConflictError(Exception):
    """A live holder of the node id presented another credential."""


class RegistryStore(Protocol):
    async def claim(
        self,
        node_id: str,
        *,
        now_ms: int,
        gateway_id: str,
        descriptor: bytes,
        max_jobs: int,
        credential: str,
        language_caps: bytes,
        ready_types: tuple[str, ...],
    ) -> Claim: ...

    async def heartbeat(
        self,
        node_id: str,
        epoch: int,
        *,
        now_ms: int,
        usage: bytes,
        healthy: bool,
        unhealthy_reason: str,
        language_caps: bytes | None,
        ready_types: tuple[str, ...],
    ) -> BeatOutcome: ...

    async def mark_offline(
        self, node_id: str, epoch: int, *, now_ms: int, reason: str, stale_before_ms: int = 0
    ) -> int | None: ...

    async def drain(self, node_id: str, *, now_ms: int, reason: str) -> NodeStatus | None: ...

    async def get(self, node_id: str) -> NodeRecord | None: ...

    async def list_ids(self, cursor: int, count: int) -> tuple[int, list[str]]: ...

    async def stale_node_ids(self, seen_before_ms: int, limit: int) -> list[str]: ...

    async def append_event(self, event: NodeEvent) -> str: ...

    async def read_events(self, after_id: str, block_ms: int, count: int) -> list[NodeEvent]: ...


class RedisRegistryStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        *,
        owner_ttl_ms: int,
        record_ttl_ms: int,
        alive_window_ms: int,
        ready_after_beats: int,
        event_feed_maxlen: int,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._owner_ttl_ms = owner_ttl_ms
        self._record_ttl_ms = record_ttl_ms
        self._alive_window_ms = alive_window_ms
        self._ready_after_beats = ready_after_beats
        self._event_feed_maxlen = event_feed_maxlen

    async def claim(
        self,
        node_id: str,
        *,
        now_ms: int,
        gateway_id: str,
        descriptor: bytes,
        max_jobs: int,
        credential: str,
        language_caps: bytes,
        ready_types: tuple[str, ...],
    ) -> Claim:
        k = self._keys
        result = await self._lua.run(
            "node_claim",
            [k.node(node_id), k.node_owner(node_id)],
            [
                now_ms,
                gateway_id,
                descriptor,
                max_jobs,
                credential,
                self._owner_ttl_ms,
                self._alive_window_ms,
                self._record_ttl_ms,
                language_caps,
                ",".join(ready_types),
            ],
        )
        if int(result[0]) < 0:
            raise NodeIdConflictError(node_id)
        await self._r.sadd(k.nodes_all(), node_id)
        await self._r.zadd(k.nodes_last_seen(), {node_id: now_ms})
        return Claim(epoch=int(result[0]), previous_status=_text(result[1]))

    async def heartbeat(
        self,
        node_id: str,
        epoch: int,
        *,
        now_ms: int,
        usage: bytes,
        healthy: bool,
        unhealthy_reason: str,
        language_caps: bytes | None,
        ready_types: tuple[str, ...],
    ) -> BeatOutcome:
        k = self._keys
        result = await self._lua.run(
            "node_heartbeat",
            [k.node(node_id), k.node_owner(node_id)],
            [
                epoch,
                now_ms,
                usage,
                "1" if healthy else "0",
                unhealthy_reason,
                self._ready_after_beats,
                language_caps or b"",
                self._owner_ttl_ms,
                self._record_ttl_ms,
                ",".join(ready_types),
            ],
        )
        head = _text(result[0])
        if head == "stale":
            raise StaleEpochError(node_id)
        if head == "offline":
            raise NodeOfflineError(node_id)
        await self._r.zadd(k.nodes_last_seen(), {node_id: now_ms})
        changed = int(result[2]) == 1
        return BeatOutcome(
            status=NodeStatus(head),
            previous_status=NodeStatus(_text(result[1])),
            changed_language_caps=bytes(result[3]) if changed else None,
            ready_types=ready_types,
        )

    async def mark_offline(
        self, node_id: str, epoch: int, *, now_ms: int, reason: str, stale_before_ms: int = 0
    ) -> int | None:
        k = self._keys
        result = await self._lua.run(
            "node_offline",
            [k.node(node_id), k.node_owner(node_id)],
            [epoch, now_ms, reason, stale_before_ms],
        )
        if int(result[0]) != 1:
            # Superseded epoch, already offline, or heard from since the sweep read it.
            return None
        await self._r.zrem(k.nodes_last_seen(), node_id)
        return int(result[1])

    async def drain(self, node_id: str, *, now_ms: int, reason: str) -> NodeStatus | None:
        result = await self._lua.run("node_drain", [self._keys.node(node_id)], [now_ms, reason])
        if int(result[0]) != 1:
            return None
        return NodeStatus(_text(result[1]))

    async def get(self, node_id: str) -> NodeRecord | None:
        k = self._keys
        fields = await self._r.hgetall(k.node(node_id))
        if not fields:
            return None
        running = await self._r.hlen(k.node_inflight(node_id))
        return _record(node_id, fields, int(running))

    async def list_ids(self, cursor: int, count: int) -> tuple[int, list[str]]:
        next_cursor, members = await self._r.sscan(self._keys.nodes_all(), cursor, count=count)
        return int(next_cursor), sorted(_text(m) for m in members)

    async def stale_node_ids(self, seen_before_ms: int, limit: int) -> list[str]:
        members = await self._r.zrangebyscore(
            self._keys.nodes_last_seen(), "-inf", f"({seen_before_ms}", start=0, num=limit
        )
        return [_text(m) for m in members]

    async def append_event(self, event: NodeEvent) -> str:
        event_id = await self._r.xadd(
            self._keys.node_events(),
            {
                "kind": event.kind,
                "node": event.node_id,
                "epoch": event.epoch,
                "status": event.status,
                "reason": event.reason,
                "at": event.at_ms,
            },
            maxlen=self._event_feed_maxlen,
            approximate=True,
        )
        return _text(event_id)

    async def read_events(self, after_id: str, block_ms: int, count: int) -> list[NodeEvent]:
        reply = await self._r.xread(
            {self._keys.node_events(): after_id}, count=count, block=block_ms
        )
        events: list[NodeEvent] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                events.append(
                    NodeEvent(
                        event_id=_text(entry_id),
                        kind=_text(fields[b"kind"]),
                        node_id=_text(fields[b"node"]),
                        epoch=int(fields[b"epoch"]),
                        status=_text(fields[b"status"]),
                        reason=_text(fields[b"reason"]),
                        at_ms=int(fields[b"at"]),
                    )
                )
        return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(node_id: str, fields: dict[bytes, bytes], running: int) -> NodeRecord:
    def text(name: str, default: str = "") -> str:
        raw = fields.get(name.encode())
        return default if raw is None else raw.decode()

    ready = text("ready_types")
    return NodeRecord(
        node_id=node_id,
        epoch=int(text("epoch", "0")),
        status=NodeStatus(text("status", "offline")),
        status_reason=text("status_reason"),
        gateway_id=text("gateway"),
        descriptor=fields.get(b"desc", b""),
        usage=fields.get(b"usage", b""),
        max_jobs=int(text("max_jobs", "0")),
        running_jobs=running,
        registered_at_ms=int(text("registered_ms", "0")),
        last_seen_ms=int(text("last_seen_ms", "0")),
        language_caps=fields.get(b"lang", b""),
        ready_types=tuple(t for t in ready.split(",") if t),
    )
