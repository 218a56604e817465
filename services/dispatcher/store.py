"""Redis access of the dispatcher: job records and events, node slots, timeouts.

Every state change of a job is one cluster-safe Lua script on the job's own slot; node
slots live in the node's slot; a change that spans both is two idempotent steps.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, run_pipeline
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import Abandoned, Finished, JobEvent, JobRecord, JobState, NodeLoad

TIMEOUT_BUCKETS = 16


@dataclass(frozen=True)
class Created:
    created: bool
    trace_id: str
    state: JobState
    node_id: str
    attempt: int


class RequestIdClashError(Exception):
    """Two request ids hashed to one job id (astronomically unlikely; never silently merged)."""


def timeout_bucket(job_id: str) -> int:
    return zlib.crc32(job_id.encode()) % TIMEOUT_BUCKETS


class RedisJobStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        *,
        live_ttl_ms: int,
        retention_ms: int,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        # Replies are dynamically shaped (bytes, lists, dicts): typed where parsed below.
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._live_ttl_ms = live_ttl_ms
        self._retention_ms = retention_ms
        # Transitions are counted here, where the scripts say whether they happened.
        self._metrics = metrics or DispatcherMetrics()

    def _job_keys(self, job_id: str) -> list[str]:
        return [self._keys.job(job_id), self._keys.job_events(job_id)]

    # --- job transitions ------------------------------------------------------------------

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
        max_attempts: int,
        trace_parent: str = "",
    ) -> Created:
        result = await self._lua.run(
            "job_create",
            self._job_keys(job_id),
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
                max_attempts,
                trace_parent,
            ],
        )
        head = int(result[0])
        if head < 0:
            raise RequestIdClashError(job_id)
        if head == 1:
            self._metrics.created()
            return Created(True, _text(result[1]), JobState.CREATED, "", 0)
        return Created(
            False, _text(result[4]), JobState(_text(result[1])), _text(result[2]), int(result[3])
        )

    async def index_job(
        self, job_id: str, *, now_ms: int, session_id: str, utterance_index: int
    ) -> None:
        """The listing indexes (recent jobs, jobs of a session): conveniences, written off
        the dispatch path."""

        def index(pipe: Any) -> None:
            pipe.zadd(self._keys.jobs_recent(), {job_id: now_ms})
            if session_id:
                pipe.zadd(self._keys.session_jobs(session_id), {job_id: utterance_index})

        await run_pipeline(self._r, index)

    async def assign(
        self, job_id: str, node_id: str, attempt: int, *, now_ms: int, due_ms: int, pool_id: str
    ) -> bool:
        result = await self._lua.run(
            "job_assign", self._job_keys(job_id), [node_id, attempt, now_ms, due_ms, pool_id]
        )
        return int(result[0]) == 1

    async def confirm(
        self, job_id: str, node_id: str, attempt: int, *, now_ms: int, due_ms: int, what: str
    ) -> int | None:
        """The node has the job; returns the job's deadline now, or None if stale."""
        result = await self._lua.run(
            "job_confirm", self._job_keys(job_id), [node_id, attempt, now_ms, due_ms, what]
        )
        return int(result[1]) if int(result[0]) == 1 else None

    async def pend(self, job_id: str, *, now_ms: int, due_ms: int) -> bool:
        result = await self._lua.run("job_pend", self._job_keys(job_id), [now_ms, due_ms])
        return int(result) == 1

    async def abandon(
        self,
        job_id: str,
        *,
        now_ms: int,
        node_id: str,
        attempt: int,
        reason: str,
        only_if_due: bool,
        pending_due_ms: int,
        counts: bool = True,
        epoch: int | None = None,
    ) -> Abandoned | None:
        """`epoch`: of the node's connection the attempt ran on; the node is excluded
        from the job under it only (services/dispatcher/exclusion.py)."""
        reply = await self._lua.run(
            "job_abandon",
            self._job_keys(job_id),
            [
                now_ms,
                node_id,
                attempt,
                reason,
                "1" if only_if_due else "0",
                pending_due_ms,
                self._retention_ms,
                "1" if counts else "0",
                "" if epoch is None else epoch,
            ],
        )
        head = int(reply[0])
        if head == 0:
            return None
        self._metrics.failover(reason, counts=counts)
        if head == 1:
            excluded = tuple(n for n in _text(reply[3]).split(",") if n)
            return Abandoned(True, _text(reply[1]), int(reply[2]), excluded)
        self._metrics.finished(JobState.FAILED, reason)
        return Abandoned(
            retry=False,
            node_id=_text(reply[1]),
            attempt=int(reply[2]),
            session_id=_text(reply[3]),
            utterance_index=int(reply[4]),
            trace_id=_text(reply[5]),
            reply_to=_text(reply[6]),
        )

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
            self._job_keys(job_id),
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
        self._metrics.finished(state, error_code)
        return Finished(
            session_id=_text(reply[1]),
            utterance_index=int(reply[2]),
            trace_id=_text(reply[3]),
            node_id=_text(reply[4]),
            attempt=int(reply[5]),
            reply_to=_text(reply[6]),
            dispatched_ms=int(reply[7] or 0),
        )

    # --- reads ------------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord | None:
        fields = await self._r.hgetall(self._keys.job(job_id))
        return _record(job_id, fields) if fields else None

    async def events(self, job_id: str, after_id: str, block_ms: int | None) -> list[JobEvent]:
        stream = self._keys.job_events(job_id)
        if block_ms is None:
            entries = await self._r.xrange(stream, min=f"({after_id}" if after_id else "-")
            return [_event(i, f) for i, f in entries]
        reply = await self._r.xread({stream: after_id or "0-0"}, block=block_ms, count=100)
        return [_event(i, f) for _s, entries in reply or [] for i, f in entries]

    async def session_job_ids(self, session_id: str, offset: int, count: int) -> list[str]:
        ids = await self._r.zrange(self._keys.session_jobs(session_id), offset, offset + count - 1)
        return [_text(i) for i in ids]

    async def node_job_ids(self, node_id: str) -> list[tuple[str, int]]:
        """The node's reserved slots: (job id, attempt)."""
        held = await self._r.hgetall(self._keys.node_inflight(node_id))
        return [(_text(job), int(attempt)) for job, attempt in held.items()]

    async def slots_of(self, node_ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        """The reserved slots of many nodes in one round trip: node id -> (job, attempt)."""

        def reads(pipe: Any) -> None:
            for node_id in node_ids:
                pipe.hgetall(self._keys.node_inflight(node_id))

        replies = await run_pipeline(self._r, reads) if node_ids else []
        return {
            node_id: [(_text(job), int(attempt)) for job, attempt in held.items()]
            for node_id, held in zip(node_ids, replies, strict=True)
        }

    async def recent_job_ids(self, before_ms: int, count: int) -> list[tuple[str, int]]:
        """Jobs created before `before_ms`, newest first: (job id, created ms)."""
        found = await self._r.zrevrangebyscore(
            self._keys.jobs_recent(),
            f"({before_ms}",
            "-inf",
            start=0,
            num=count,
            withscores=True,
        )
        return [(_text(job), int(score)) for job, score in found]

    async def trim_recent(self, older_than_ms: int) -> None:
        await self._r.zremrangebyscore(self._keys.jobs_recent(), "-inf", f"({older_than_ms}")

    # --- node slots ------------------------------------------------------------------------

    async def reserve(self, node_id: str, job_id: str, attempt: int, now_ms: int) -> bool:
        k = self._keys
        result = await self._lua.run(
            "slot_reserve",
            [k.node(node_id), k.node_inflight(node_id)],
            [job_id, attempt, now_ms],
        )
        head = int(result[0])
        self._metrics.reserved(head)
        return head == 1

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

        def reads(pipe: Any) -> None:
            for node_id in node_ids:
                pipe.hmget(k.node(node_id), "status", "max_jobs")
                pipe.hlen(k.node_inflight(node_id))
                pipe.get(k.node_owner(node_id))

        replies = await run_pipeline(self._r, reads)
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

    async def node_ids_page(self, cursor: int, count: int) -> tuple[int, list[str]]:
        """A page of every known node id (the registry's set of nodes)."""
        next_cursor, members = await self._r.sscan(self._keys.nodes_all(), cursor, count=count)
        return int(next_cursor), [_text(m) for m in members]

    async def attempt_epoch(self, node_id: str, dispatched_ms: int) -> int:
        """The epoch of the node's connection an attempt dispatched at `dispatched_ms` ran
        on: the current one, or an older one if the node registered again since (0 when
        the node is unknown). A registration in the very millisecond of the dispatch
        counts as since: wrongly excluding a healthy new connection would cost the job
        its node, wrongly not excluding costs at most one more attempt."""
        epoch, registered_ms = await self._r.hmget(
            self._keys.node(node_id), "epoch", "registered_ms"
        )
        current = int(epoch or 0)
        if current and int(registered_ms or 0) >= dispatched_ms:
            return current - 1
        return current

    async def node_owner(self, node_id: str) -> tuple[str, int]:
        owner = await self._r.get(self._keys.node_owner(node_id))
        gateway, _, epoch = (owner or b"").decode().partition(" ")
        return gateway, int(epoch or 0)

    # --- timeouts ---------------------------------------------------------------------------

    async def schedule(self, job_id: str, due_ms: int) -> None:
        """(Re)arm the job's timeout; registered before the state it guards."""
        await self._r.zadd(self._keys.timeouts(timeout_bucket(job_id)), {job_id: due_ms})

    async def unschedule(self, job_id: str) -> None:
        await self._r.zrem(self._keys.timeouts(timeout_bucket(job_id)), job_id)

    async def claim_due(self, bucket: int, now_ms: int, lease_ms: int, limit: int) -> list[str]:
        result = await self._lua.run(
            "timeouts_claim", [self._keys.timeouts(bucket)], [now_ms, lease_ms, limit]
        )
        return [_text(i) for i in result]

    # --- sessions and gateways --------------------------------------------------------------

    async def session_owner(self, session_id: str) -> str:
        owner = await self._r.get(self._keys.session_owner(session_id))
        return owner.decode() if owner else ""

    async def session_preferred_pool(self, session_id: str) -> str:
        pool = await self._r.hget(self._keys.session(session_id), "preferred_pool")
        return pool.decode() if pool else ""

    async def set_session_preferred_pool(self, session_id: str, pool_id: str) -> None:
        # Only an existing session gets a preferred pool (HSET would create a stray key).
        key = self._keys.session(session_id)
        if await self._r.exists(key):
            await self._r.hset(key, "preferred_pool", pool_id)

    async def gateway_address(self, gateway_id: str) -> str:
        address = await self._r.get(self._keys.gateway(gateway_id))
        return address.decode() if address else ""

    async def node_events_after(
        self, after_id: str, block_ms: int, count: int
    ) -> list[tuple[str, dict[str, str]]]:
        reply = await self._r.xread(
            {self._keys.node_events(): after_id}, block=block_ms, count=count
        )
        return [
            (_text(i), {_text(k): _text(v) for k, v in f.items()})
            for _s, entries in reply or []
            for i, f in entries
        ]

    async def last_node_event_id(self) -> str:
        last = await self._r.xrevrange(self._keys.node_events(), count=1)
        return _text(last[0][0]) if last else "0-0"


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> JobEvent:
    return JobEvent(
        event_id=_text(entry_id),
        kind=_text(fields[b"kind"]),
        attempt=int(fields.get(b"attempt", b"0") or 0),
        node_id=_text(fields.get(b"node", b"")),
        at_ms=int(fields.get(b"at", b"0")),
        code=_text(fields.get(b"code", b"")),
    )


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
        trace_parent=text("trace_parent"),
        session_id=text("session_id"),
        utterance_index=int(text("utterance_index", "0")),
        src_lang=text("src"),
        tgt_lang=text("tgt"),
        tenant_id=text("tenant"),
        reply_to=text("reply_to"),
        created_ms=int(text("created_ms", "0")),
        updated_ms=int(text("updated_ms", "0")),
        dispatched_ms=int(text("dispatched_ms", "0")),
        due_ms=int(text("due_ms", "0")),
        excluded=tuple(n for n in text("excluded").split(",") if n),
        pool_id=text("pool_id"),
        error_code=text("error_code"),
        error_message=text("error_message"),
        spec=fields.get(b"spec", b""),
        result=fields.get(b"result", b""),
    )
