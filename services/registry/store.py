"""Redis access of the registry. Every multi-key write is one cluster-safe Lua script."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, run_pipeline
from services.registry.metrics import RegistryMetrics
from services.registry.model import (
    Beat,
    BeatOutcome,
    Claim,
    NodeEvent,
    NodeRecord,
    NodeStatus,
    Offline,
)


class StaleEpochError(Exception):
    """The caller's epoch was superseded by a newer registration of the node."""


class NodeOfflineError(Exception):
    """The node was marked offline; it must register again."""


class NodeRecordLostError(Exception):
    """No record of the node at all, though its gateway beats for it: Redis lost it."""


class NodeIdConflictError(Exception):
    """A live holder of the node id presented another credential."""


@dataclass(frozen=True)
class Reclaim:
    """A node whose gateway holds its socket, to be written back after a data loss."""

    node_id: str
    epoch: int
    gateway_id: str
    descriptor: bytes
    credential: str
    language_caps: bytes
    ready_types: tuple[str, ...]
    accepts_public_jobs: bool


@dataclass(frozen=True)
class StoreLimits:
    owner_ttl_ms: int
    record_ttl_ms: int
    alive_window_ms: int
    ready_after_beats: int
    failures_to_degrade: int
    failure_cooldown_ms: int
    history_length: int
    event_feed_maxlen: int


class RedisRegistryStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        limits: StoreLimits,
        metrics: RegistryMetrics | None = None,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._limits = limits
        # Beats and registrations are counted here, where the scripts decided them.
        self._metrics = metrics or RegistryMetrics()

    def _node_keys(self, node_id: str) -> list[str]:
        k = self._keys
        return [k.node(node_id), k.node_owner(node_id), k.node_history(node_id)]

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
        accepts_public_jobs: bool = True,
    ) -> Claim:
        """Claim the node id (a new epoch) and put the node in the shared sets, in one
        round trip. The sets are written even when the claim is refused: the id then
        belongs to a live node, which is in them already (its last_seen stamp may move
        forward, which only puts off the sweeper's look; the record is the fence)."""
        lim = self._limits
        k = self._keys

        def node_sets(pipe: Any) -> None:
            pipe.sadd(k.nodes_all(), node_id)
            pipe.zadd(k.nodes_last_seen(), {node_id: now_ms})

        [result] = await self._lua.run_many(
            "node_claim",
            [
                (
                    self._node_keys(node_id),
                    [
                        now_ms,
                        gateway_id,
                        descriptor,
                        max_jobs,
                        credential,
                        lim.owner_ttl_ms,
                        lim.alive_window_ms,
                        lim.record_ttl_ms,
                        language_caps,
                        ",".join(ready_types),
                        lim.history_length,
                        lim.failures_to_degrade,
                        "1" if accepts_public_jobs else "0",
                    ],
                )
            ],
            then=node_sets,
        )
        if isinstance(result, Exception):
            raise result
        if int(result[0]) < 0:
            raise NodeIdConflictError(node_id)
        self._metrics.registered()
        return Claim(
            epoch=int(result[0]),
            previous_status=_text(result[1]),
            previous_gateway=_text(result[2]),
            index_seq=int(result[3]),
        )

    async def reclaim_many(
        self, nodes: list[Reclaim], *, now_ms: int, max_jobs: int
    ) -> list[int | None]:
        """Write back the records of nodes whose gateway kept their sockets when Redis
        lost its data (one script per node, one round trip, the node sets beside them).
        Each node's new index_seq, or None where a record of that epoch or a newer one
        exists."""
        lim, k = self._limits, self._keys

        def node_sets(pipe: Any) -> None:
            for node in nodes:
                pipe.sadd(k.nodes_all(), node.node_id)
                pipe.zadd(k.nodes_last_seen(), {node.node_id: now_ms})

        replies = await self._lua.run_many(
            "node_reclaim",
            [
                (
                    self._node_keys(node.node_id),
                    [
                        now_ms,
                        node.gateway_id,
                        node.descriptor,
                        max_jobs,
                        node.credential,
                        lim.owner_ttl_ms,
                        lim.record_ttl_ms,
                        node.language_caps,
                        ",".join(node.ready_types),
                        lim.history_length,
                        lim.failures_to_degrade,
                        "1" if node.accepts_public_jobs else "0",
                        node.epoch,
                    ],
                )
                for node in nodes
            ],
            then=node_sets,
        )
        results: list[int | None] = []
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            results.append(int(reply[1]) if int(reply[0]) == 1 else None)
        return results

    async def heartbeat_many(
        self, beats: list[Beat], *, now_ms: int
    ) -> list[BeatOutcome | Exception]:
        """Record many beats and stamp them in nodes:last_seen, in one round trip (one
        script per node). Each beat's outcome or refusal, in order: StaleEpochError,
        NodeOfflineError, or the RedisError its script met."""
        lim = self._limits
        calls = [
            (
                self._node_keys(beat.node_id),
                [
                    beat.epoch,
                    now_ms,
                    beat.usage,
                    beat.unhealthy_reason,
                    "1" if beat.gpu_reported else "0",
                    lim.ready_after_beats,
                    beat.language_caps or b"",
                    ",".join(beat.ready_types),
                    lim.owner_ttl_ms,
                    lim.record_ttl_ms,
                    lim.failures_to_degrade,
                    lim.failure_cooldown_ms,
                    lim.history_length,
                ],
            )
            for beat in beats
        ]

        def stamp(pipe: Any) -> None:
            # In the same round trip as the scripts, so before their verdicts: XX keeps
            # a node the sweeper took offline (or forgot) out of the set, and a refused
            # beat can at most postpone the sweeper's look at a node, whose record
            # (last_seen_ms, checked by node_offline.lua) decides. Refused beats end
            # their connection, so that happens once.
            pipe.zadd(
                self._keys.nodes_last_seen(), {beat.node_id: now_ms for beat in beats}, xx=True
            )

        replies = await self._lua.run_many("node_heartbeat", calls, then=stamp)
        return [self._beat_outcome(beat, reply) for beat, reply in zip(beats, replies, strict=True)]

    def _beat_outcome(self, beat: Beat, reply: Any) -> BeatOutcome | Exception:
        if isinstance(reply, Exception):
            self._metrics.heartbeat("error")
            return reply
        head = _text(reply[0])
        if head == "stale":
            self._metrics.heartbeat("stale_epoch")
            return StaleEpochError(beat.node_id)
        if head == "offline":
            self._metrics.heartbeat("offline")
            return NodeOfflineError(beat.node_id)
        if head == "missing":
            self._metrics.heartbeat("missing")
            return NodeRecordLostError(beat.node_id)
        self._metrics.heartbeat("ok")
        return BeatOutcome(
            status=NodeStatus(head),
            previous_status=NodeStatus(_text(reply[1])),
            index_seq=int(reply[2]),
            language_caps=bytes(reply[3]),
            reason=_text(reply[4]),
        )

    async def mark_offline(
        self, node_id: str, epoch: int, *, now_ms: int, reason: str, stale_before_ms: int = 0
    ) -> Offline | None:
        result = await self._lua.run(
            "node_offline",
            self._node_keys(node_id),
            [epoch, now_ms, reason, stale_before_ms, self._limits.history_length],
        )
        if int(result[0]) != 1:
            # Superseded epoch, already offline, or heard from since the sweep read it.
            return None
        await self._r.zrem(self._keys.nodes_last_seen(), node_id)
        return Offline(epoch=int(result[1]), index_seq=int(result[2]))

    async def drain(
        self, node_id: str, *, now_ms: int, reason: str
    ) -> tuple[NodeStatus, int] | None:
        """(previous status, epoch), or None when the node is offline or unknown."""
        k = self._keys
        result = await self._lua.run(
            "node_drain",
            [k.node(node_id), k.node_history(node_id)],
            [now_ms, reason, self._limits.history_length],
        )
        if int(result[0]) != 1:
            return None
        return NodeStatus(_text(result[1])), int(result[2])

    async def get(self, node_id: str, *, with_history: bool = False) -> NodeRecord | None:
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        pipe.hgetall(k.node(node_id))
        pipe.hlen(k.node_inflight(node_id))
        if with_history:
            pipe.lrange(k.node_history(node_id), 0, -1)
        replies = await pipe.execute()
        if not replies[0]:
            return None
        history = tuple(_text(h) for h in replies[2]) if with_history else ()
        return _record(node_id, replies[0], int(replies[1]), history)

    async def index_state(self, node_ids: list[str]) -> list[tuple[int, int]]:
        """(registry index_seq, pool's applied index_seq) of each node, in one round trip."""
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        for node_id in node_ids:
            pipe.hget(k.node(node_id), "index_seq")
            pipe.hget(k.index_seqs(), node_id)
        replies = await pipe.execute()
        return [
            (int(replies[2 * i] or 0), int(replies[2 * i + 1] or 0)) for i in range(len(node_ids))
        ]

    async def list_ids(self, cursor: int, count: int) -> tuple[int, list[str]]:
        next_cursor, members = await self._r.sscan(self._keys.nodes_all(), cursor, count=count)
        return int(next_cursor), sorted(_text(m) for m in members)

    async def forget(self, node_id: str) -> None:
        """Drop a node whose record expired from the shared sets."""
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        pipe.srem(k.nodes_all(), node_id)
        pipe.zrem(k.nodes_last_seen(), node_id)
        await pipe.execute()

    async def stale_node_ids(self, seen_before_ms: int, limit: int) -> list[str]:
        members = await self._r.zrangebyscore(
            self._keys.nodes_last_seen(), "-inf", f"({seen_before_ms}", start=0, num=limit
        )
        return [_text(m) for m in members]

    async def gateway_address(self, gateway_id: str) -> str:
        address = await self._r.get(self._keys.gateway(gateway_id))
        return _text(address) if address else ""

    async def try_sweep_lock(self, owner: str, ttl_ms: int) -> bool:
        return bool(await self._r.set(self._keys.sweep_lock(), owner, nx=True, px=ttl_ms))

    async def append_events(self, events: list[NodeEvent]) -> None:
        """Several events in one round trip (their order in the feed is the list's)."""
        k = self._keys

        def writes(pipe: Any) -> None:
            for event in events:
                pipe.xadd(
                    k.node_events(),
                    _event_fields(event),
                    maxlen=self._limits.event_feed_maxlen,
                    approximate=True,
                )

        await run_pipeline(self._r, writes)

    async def last_event_id(self) -> str:
        last = await self._r.xrevrange(self._keys.node_events(), count=1)
        return _text(last[0][0]) if last else "0-0"

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
                        traceparent=_text(fields.get(b"traceparent", b"")),
                    )
                )
        return events


def _event_fields(event: NodeEvent) -> dict[str, str | int]:
    return {
        "kind": event.kind,
        "node": event.node_id,
        "epoch": event.epoch,
        "status": event.status,
        "reason": event.reason,
        "at": event.at_ms,
        "traceparent": event.traceparent,
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(
    node_id: str, fields: dict[bytes, bytes], running: int, history: tuple[str, ...]
) -> NodeRecord:
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
        index_seq=int(text("index_seq", "0")),
        history=history,
    )
