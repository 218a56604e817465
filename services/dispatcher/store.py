"""Redis access of the dispatcher: job records and events, node slots, timeouts.

Every state change of a job is one cluster-safe Lua script on the job's own slot; node
slots live in the node's slot; a change that spans both is two idempotent steps. Steps
that go together are pipelined into one round trip. Every script's reply is parsed here
into a typed value (model.py).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, ScriptPipeline, run_pipeline
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.model import (
    Abandoned,
    Confirmed,
    Connection,
    Created,
    Finished,
    JobEvent,
    JobRecord,
    JobRef,
    JobState,
    Reservation,
    Reserved,
)

TIMEOUT_BUCKETS = 16

RESERVATIONS = {
    1: Reservation.RESERVED,
    2: Reservation.HELD,
    0: Reservation.FULL,
    -1: Reservation.NOT_READY,
    -2: Reservation.CONFLICT,
}


class RequestIdClashError(Exception):
    """Two request ids hashed to one job id (astronomically unlikely; never silently merged)."""


def timeout_bucket(job_id: str) -> int:
    return zlib.crc32(job_id.encode()) % TIMEOUT_BUCKETS


@dataclass(frozen=True)
class NewJobRecord:
    """Everything job_create stores for a new job."""

    job_id: str
    request_id: str
    spec: bytes
    trace_id: str
    session_id: str
    utterance_index: int
    src_lang: str
    tgt_lang: str
    tenant_id: str
    gateway_id: str
    max_attempts: int
    trace_parent: str = ""


@dataclass(frozen=True)
class FirstAttempt:
    """A node whose slot is already reserved for a new job's first attempt."""

    node_id: str
    epoch: int
    pool_id: str


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
        self, job: NewJobRecord, *, now_ms: int, due_ms: int, first: FirstAttempt | None
    ) -> Created:
        """Create the job (its first attempt on `first` when given), arm its timeout and
        index it for listings, in one round trip. Everything but the script is idempotent,
        so a repeated creation only re-arms and re-indexes."""
        k = self._keys

        def steps(pipe: ScriptPipeline) -> None:
            pipe.script(
                "job_create",
                self._job_keys(job.job_id),
                [
                    now_ms,
                    job.request_id,
                    job.spec,
                    job.trace_id,
                    job.session_id,
                    job.utterance_index,
                    job.src_lang,
                    job.tgt_lang,
                    job.tenant_id,
                    job.gateway_id,
                    self._live_ttl_ms,
                    job.max_attempts,
                    job.trace_parent,
                    first.node_id if first else "",
                    first.epoch if first else 0,
                    first.pool_id if first else "",
                    due_ms,
                ],
            )
            # The deadline is armed with the creation: a creation cut short before its
            # placement is still found by the sweeper (it goes by the record's due time).
            pipe.commands.zadd(k.timeouts(timeout_bucket(job.job_id)), {job.job_id: due_ms})
            pipe.commands.zadd(k.jobs_recent(), {job.job_id: now_ms})
            if job.tenant_id:
                # The tenant's own listing (one key, one slot): kept within retention.
                tenant_jobs = k.tenant_jobs(job.tenant_id)
                pipe.commands.zadd(tenant_jobs, {job.job_id: now_ms})
                pipe.commands.zremrangebyscore(
                    tenant_jobs, "-inf", f"({now_ms - self._retention_ms}"
                )
                pipe.commands.pexpire(tenant_jobs, self._retention_ms)
            if job.session_id:
                pipe.commands.zadd(
                    k.session_jobs(job.session_id), {job.job_id: job.utterance_index}
                )

        reply = (await self._lua.pipelined(steps))[0]
        head = int(reply[0])
        if head < 0:
            raise RequestIdClashError(job.job_id)
        if head == 1:
            self._metrics.created()
            if first is not None:
                return Created(True, _text(reply[1]), JobState.DISPATCHED, first.node_id, 1)
            return Created(True, _text(reply[1]), JobState.CREATED)
        return Created(
            False, _text(reply[4]), JobState(_text(reply[1])), _text(reply[2]), int(reply[3])
        )

    async def assign(
        self,
        job_id: str,
        node: Connection,
        attempt: int,
        *,
        now_ms: int,
        due_ms: int,
        pool_id: str,
    ) -> bool:
        """Attempt N of a live, unplaced job runs on `node`; its timer armed for `due_ms`
        in the same round trip (LT: never later than a deadline it already has)."""

        def steps(pipe: ScriptPipeline) -> None:
            pipe.script(
                "job_assign",
                self._job_keys(job_id),
                [node.node_id, attempt, now_ms, due_ms, pool_id, node.epoch],
            )
            pipe.commands.zadd(
                self._keys.timeouts(timeout_bucket(job_id)), {job_id: due_ms}, lt=True
            )

        reply, _ = await self._lua.pipelined(steps)
        return int(reply[0]) == 1

    async def confirm(
        self, job_id: str, node_id: str, attempt: int, *, now_ms: int, due_ms: int, what: str
    ) -> Confirmed | None:
        """The node has the job; None when the confirmation is stale."""
        reply = await self._lua.run(
            "job_confirm", self._job_keys(job_id), [node_id, attempt, now_ms, due_ms, what]
        )
        return _confirmed(job_id, reply)

    async def confirm_and_disarm(
        self,
        confirmations: list[tuple[str, str, int]],
        disarms: list[str],
        *,
        now_ms: int,
        due_ms: int,
    ) -> list[Confirmed | None]:
        """What acknowledgements cause, in one round trip: deliveries of assignments
        confirmed (job id, node id, attempt) and the timers of answered jobs disarmed."""

        def steps(pipe: ScriptPipeline) -> None:
            for job_id, node_id, attempt in confirmations:
                pipe.script(
                    "job_confirm",
                    self._job_keys(job_id),
                    [node_id, attempt, now_ms, due_ms, "delivered"],
                )
            for job_id in disarms:
                pipe.commands.zrem(self._keys.timeouts(timeout_bucket(job_id)), job_id)

        replies = await self._lua.pipelined(steps)
        return [
            _confirmed(job_id, reply)
            for (job_id, _, _), reply in zip(confirmations, replies, strict=False)
        ]

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
    ) -> Abandoned | None:
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
            ],
        )
        head = int(reply[0])
        if head == 0:
            return None
        self._metrics.failover(reason, counts=counts)
        if head == 1:
            excluded = tuple(Connection.parse(c) for c in _text(reply[3]).split(",") if c)
            return Abandoned(True, _text(reply[1]), int(reply[2]), int(reply[4]), excluded)
        self._metrics.finished(JobState.FAILED, reason)
        return Abandoned(
            retry=False,
            node_id=_text(reply[1]),
            attempt=int(reply[2]),
            ref=JobRef(
                job_id=job_id,
                session_id=_text(reply[3]),
                utterance_index=int(reply[4]),
                trace_id=_text(reply[5]),
                gateway_id=_text(reply[6]),
            ),
        )

    async def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        now_ms: int,
        follow_up_due_ms: int,
        error_code: str = "",
        error_message: str = "",
        only_from: JobState | None = None,
    ) -> Finished | None:
        """End a live job without a node's result (cancelled, or failed for want of a
        node) — only from `only_from` when given — and in the same round trip arm the
        timer that brings a replica back to tell the session should this one die first
        (LT: never later than a deadline the job already has)."""
        k = self._keys

        def steps(pipe: ScriptPipeline) -> None:
            pipe.script(
                "job_finish",
                self._job_keys(job_id),
                [
                    now_ms,
                    state.value,
                    "",
                    0,
                    b"",
                    error_code,
                    error_message,
                    self._retention_ms,
                    only_from.value if only_from else "",
                ],
            )
            pipe.commands.zadd(
                k.timeouts(timeout_bucket(job_id)), {job_id: follow_up_due_ms}, lt=True
            )

        reply, _ = await self._lua.pipelined(steps)
        if int(reply[0]) != 1:
            return None
        self._metrics.finished(state, error_code)
        return _finished(job_id, reply)

    # --- reads ------------------------------------------------------------------------------

    async def get(self, job_id: str) -> JobRecord | None:
        fields = await self._r.hgetall(self._keys.job(job_id))
        return _record(job_id, fields) if fields else None

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

    async def tenant_job_ids(
        self, tenant_id: str, before_ms: int, count: int
    ) -> list[tuple[str, int]]:
        """One tenant's jobs created before `before_ms`, newest first: (job id, created ms)."""
        found = await self._r.zrevrangebyscore(
            self._keys.tenant_jobs(tenant_id),
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

    async def reserve(self, node_id: str, job_id: str, attempt: int, now_ms: int) -> Reserved:
        k = self._keys
        reply = await self._lua.run(
            "slot_reserve",
            [k.node(node_id), k.node_inflight(node_id)],
            [job_id, attempt, now_ms],
        )
        outcome = RESERVATIONS[int(reply[0])]
        self._metrics.reserved(outcome)
        if outcome in (Reservation.NOT_READY, Reservation.CONFLICT):
            return Reserved(outcome)
        return Reserved(outcome, int(reply[1]), int(reply[2]))

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

    async def finish_and_release(
        self,
        job_id: str,
        state: JobState,
        *,
        now_ms: int,
        node_id: str,
        attempt: int,
        result: bytes,
        error_code: str,
        error_message: str,
        follow_up_due_ms: int,
    ) -> tuple[Finished | None, bool]:
        """A node's result, in one round trip: finish the job (fenced by node and
        attempt), give back that attempt's slot, and arm the timer that brings a replica
        back to tell the session should this one die first. The release and the timer are
        right whether or not the finish applied: the slot entry is fenced by attempt too,
        and a timer that comes due early is re-armed at the record's own due time."""
        k = self._keys

        def steps(pipe: ScriptPipeline) -> None:
            pipe.script(
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
                    "",
                ],
            )
            pipe.script(
                "slot_release",
                [k.node_inflight(node_id), k.node(node_id), k.node_history(node_id)],
                [job_id, attempt, "ok" if state is JobState.COMPLETED else "fail", now_ms],
            )
            # LT: never later than a deadline it already has (a late, stale result must
            # not postpone the timeout of the attempt that now runs).
            pipe.commands.zadd(
                k.timeouts(timeout_bucket(job_id)), {job_id: follow_up_due_ms}, lt=True
            )

        finish_reply, release_reply, _ = await self._lua.pipelined(steps)
        released = int(release_reply[0]) == 1
        if int(finish_reply[0]) != 1:
            return None, released
        self._metrics.finished(state, error_code)
        return _finished(job_id, finish_reply), released

    async def node_ids_page(self, cursor: int, count: int) -> tuple[int, list[str]]:
        """A page of every known node id (the registry's set of nodes)."""
        next_cursor, members = await self._r.sscan(self._keys.nodes_all(), cursor, count=count)
        return int(next_cursor), [_text(m) for m in members]

    # --- timeouts ---------------------------------------------------------------------------

    async def schedule(self, job_id: str, due_ms: int) -> None:
        """(Re)arm the job's timeout; registered before the state it guards."""
        await self._r.zadd(self._keys.timeouts(timeout_bucket(job_id)), {job_id: due_ms})

    async def schedule_by(self, job_id: str, due_ms: int) -> None:
        """Arm the job's timeout for `due_ms` unless it is armed for earlier already."""
        await self._r.zadd(self._keys.timeouts(timeout_bucket(job_id)), {job_id: due_ms}, lt=True)

    async def unschedule(self, job_id: str) -> None:
        await self._r.zrem(self._keys.timeouts(timeout_bucket(job_id)), job_id)

    async def claim_due_all(self, now_ms: int, lease_ms: int, limit: int) -> list[str]:
        """Lease the due entries of every timeout bucket to this caller, in one round
        trip (each bucket its own slot; timeouts_claim.lua)."""
        replies = await self._lua.run_many(
            "timeouts_claim",
            [([self._keys.timeouts(b)], [now_ms, lease_ms, limit]) for b in range(TIMEOUT_BUCKETS)],
        )
        claimed: list[str] = []
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            claimed.extend(_text(i) for i in reply)
        return claimed

    # --- sessions and gateways --------------------------------------------------------------

    async def session_preferred_pool(self, session_id: str) -> str:
        pool = await self._r.hget(self._keys.session(session_id), "preferred_pool")
        return pool.decode() if pool else ""

    async def set_session_preferred_pool(self, session_id: str, pool_id: str) -> None:
        # Only an existing session gets a preferred pool (HSET would create a stray key).
        key = self._keys.session(session_id)
        if await self._r.exists(key):
            await self._r.hset(key, "preferred_pool", pool_id)

    async def advertise(self, member: str, *, now_ms: int, ttl_ms: int) -> None:
        """This replica is alive until now + ttl (gateways link to every live one)."""

        def writes(pipe: Any) -> None:
            pipe.zadd(self._keys.dispatchers(), {member: now_ms + ttl_ms})
            pipe.zremrangebyscore(self._keys.dispatchers(), "-inf", f"({now_ms}")

        await run_pipeline(self._r, writes)

    async def withdraw(self, member: str) -> None:
        await self._r.zrem(self._keys.dispatchers(), member)

    async def gateway_advertised(self, gateway_id: str) -> bool:
        """Whether the gateway replica is alive (its advertisement has not expired)."""
        return bool(await self._r.exists(self._keys.gateway(gateway_id)))

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


def _finished(job_id: str, reply: list[Any]) -> Finished:
    return Finished(
        ref=JobRef(job_id, _text(reply[1]), int(reply[2]), _text(reply[3]), _text(reply[6])),
        node_id=_text(reply[4]),
        attempt=int(reply[5]),
        dispatched_ms=int(reply[7] or 0),
    )


def _confirmed(job_id: str, reply: list[Any]) -> Confirmed | None:
    if int(reply[0]) != 1:
        return None
    return Confirmed(
        due_ms=int(reply[1]),
        first=int(reply[2]) == 1,
        ref=JobRef(job_id, _text(reply[3]), int(reply[4]), _text(reply[5]), _text(reply[6])),
        created_ms=int(reply[7] or 0),
    )


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
        node_epoch=int(text("node_epoch", "0") or 0),
        attempt=int(text("attempt", "0")),
        trace_id=text("trace_id"),
        trace_parent=text("trace_parent"),
        session_id=text("session_id"),
        utterance_index=int(text("utterance_index", "0")),
        src_lang=text("src"),
        tgt_lang=text("tgt"),
        tenant_id=text("tenant"),
        gateway_id=text("gateway"),
        created_ms=int(text("created_ms", "0")),
        updated_ms=int(text("updated_ms", "0")),
        dispatched_ms=int(text("dispatched_ms", "0")),
        due_ms=int(text("due_ms", "0")),
        excluded=tuple(Connection.parse(c) for c in text("excluded").split(",") if c),
        pool_id=text("pool_id"),
        error_code=text("error_code"),
        error_message=text("error_message"),
        spec=fields.get(b"spec", b""),
        result=fields.get(b"result", b""),
    )


# The parsers, for the other readers of job records and events (watch_store.py).
parse_record = _record
parse_event = _event
