"""Redis access of the watch hub: marking jobs as watched, reading what is new for many
jobs in one round trip, and the one subscription to watched jobs' announcements.

A job's record and event stream share its slot, so each job's commands are pipelined
together; a batch of jobs is one pipelined round trip (split per node on a cluster).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import PubSub
from redis.exceptions import NoScriptError

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, run_pipeline
from services.dispatcher.model import JobEvent, JobRecord
from services.dispatcher.store import parse_event, parse_record

# A hub's sentinel outlives many checks (one a second), and not its replica for long.
SENTINEL_TTL_MS = 60_000

# Every record field a watcher is shown: all but the audio (`spec`), which can be MBs.
VIEW_FIELDS = (
    "request_id",
    "state",
    "node_id",
    "attempt",
    "trace_id",
    "trace_parent",
    "session_id",
    "utterance_index",
    "src",
    "tgt",
    "tenant",
    "reply_to",
    "created_ms",
    "updated_ms",
    "dispatched_ms",
    "due_ms",
    "excluded",
    "pool_id",
    "error_code",
    "error_message",
    "result",
)


@dataclass(frozen=True)
class SnapshotRead:
    job_id: str
    after: str  # events after this id ("": all of them)
    mark: bool  # mark the job watched first (its first read by this hub)


@dataclass(frozen=True)
class JobSnapshot:
    job_id: str
    events: list[JobEvent]  # after the cursor asked for, oldest first
    record: JobRecord | None  # None: no such job (never was, expired, or Redis lost it)


class RedisWatchStore:
    def __init__(self, client: RedisClient, scripts: LuaScripts, keys: Keys) -> None:
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self._hub_id = uuid.uuid4().hex

    async def snapshots(self, reads: list[SnapshotRead]) -> list[JobSnapshot]:
        """For each job: its events after the cursor and its record, marking it watched
        first where asked (so any later event is announced), in one round trip."""
        script = self._lua["job_watch"]

        def commands(pipe: Any) -> None:
            for read in reads:
                if read.mark:
                    # Not pipe.evalsha: cluster pipelines refuse that name (see run_many).
                    pipe.execute_command("EVALSHA", script.sha, 1, self._keys.job(read.job_id))
                self._read(pipe, read)

        replies = await run_pipeline(self._r, commands, raise_on_error=False)
        snapshots: list[JobSnapshot] = []
        at = 0
        for read in reads:
            marked = replies[at] if read.mark else None
            at += 1 if read.mark else 0
            events, fields = replies[at : at + 2]
            at += 2
            if isinstance(marked, NoScriptError):
                # A Redis without the script (restarted): load it, mark, read again.
                await self._lua.run("job_watch", [self._keys.job(read.job_id)], [])
                events, fields = await self._read_again(read)
                marked = None
            for reply in (marked, events, fields):
                if isinstance(reply, Exception):
                    raise reply
            snapshots.append(self._snapshot(read.job_id, events, fields))
        return snapshots

    async def _read_again(self, read: SnapshotRead) -> list[Any]:
        def commands(pipe: Any) -> None:
            self._read(pipe, read)

        return await run_pipeline(self._r, commands)

    def _read(self, pipe: Any, read: SnapshotRead) -> None:
        start = f"({read.after}" if read.after else "-"
        pipe.xrange(self._keys.job_events(read.job_id), min=start)
        pipe.hmget(self._keys.job(read.job_id), *VIEW_FIELDS)

    @staticmethod
    def _snapshot(job_id: str, entries: Any, values: Any) -> JobSnapshot:
        fields = {
            name.encode(): value
            for name, value in zip(VIEW_FIELDS, values, strict=True)
            if value is not None
        }
        if b"state" not in fields:
            return JobSnapshot(job_id, [], None)
        return JobSnapshot(
            job_id, [parse_event(i, f) for i, f in entries], parse_record(job_id, fields)
        )

    async def last_event_ids(self, job_ids: list[str]) -> list[str | None]:
        """The newest event id of each job (None: it has no events, so no job)."""

        def commands(pipe: Any) -> None:
            for job_id in job_ids:
                pipe.xrevrange(self._keys.job_events(job_id), count=1)

        replies = await run_pipeline(self._r, commands) if job_ids else []
        return [_text(reply[0][0]) if reply else None for reply in replies]

    async def ensure_sentinel(self) -> bool:
        """Set (and keep alive) this hub's data-loss sentinel; True when it was missing:
        the first time, or Redis lost its data since the last call. One per hub, so every
        replica notices a loss on its own."""
        previous = await self._r.set(
            self._keys.watch_sentinel(self._hub_id), b"1", px=SENTINEL_TTL_MS, get=True
        )
        return previous is None

    def announcements(self) -> Announcements:
        return Announcements(self._r.pubsub(), self._keys)


class SubscriptionRenewed(Exception):
    """The connection dropped and redis-py reconnected and subscribed again by itself:
    whatever was announced in between is lost, and the server may be a new, empty one."""


class Announcements:
    """The hub's one pub/sub connection: ids of watched jobs that have a new event."""

    def __init__(self, pubsub: PubSub, keys: Keys) -> None:
        self._pubsub = pubsub
        self._keys = keys
        self._confirmations = 0  # psubscribe confirmations: one per (re)subscription

    async def open(self) -> None:
        await self._pubsub.psubscribe(self._keys.job_events_pattern())

    async def next_job_id(self, timeout_s: float) -> str | None:
        """The next announced job id; None when nothing came within the timeout.
        Raises SubscriptionRenewed when the subscription was renewed by a reconnect that
        redis-py made on its own (the confirmations beyond the first tell)."""
        message = await self._pubsub.get_message(timeout=timeout_s)
        if message is None:
            return None
        if message.get("type") == "psubscribe":
            self._confirmations += 1
            if self._confirmations > 1:
                raise SubscriptionRenewed("the announcements' subscription was renewed")
            return None
        if message.get("type") != "pmessage":
            return None
        return self._keys.job_id_of_events(_text(message["channel"]))

    async def close(self) -> None:
        await self._pubsub.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
