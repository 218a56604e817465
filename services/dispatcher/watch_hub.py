"""WatchJob at scale: one reader of job events per dispatcher replica, fanned out to any
number of watchers. A watcher costs memory, never a Redis connection of its own.

- A job's first watcher here marks it watched (job_watch.lua); from then on each of its
  transition scripts PUBLISHes on the name of its event stream, and the hub's one
  pattern subscription hears it.
- A job that was heard of is read once for all its watchers (its events after the
  oldest cursor among them, and its record without the audio), and the reads of many
  jobs share one pipelined round trip: one reader, however many watchers.
- After every (re)subscription every followed job is read again (announcements made
  while nobody listened are lost), and so is every followed job when the hub's
  data-loss sentinel (one key per hub, checked every `loss_check_s`) is gone: a job
  whose data Redis lost ends its watches with NOT_FOUND within about a second.
- A slow sweep compares each followed job's newest event id with what the hub has read
  (one command per job, hence slow): the safety net for an announcement lost some
  other way, and for a loss the sentinel cannot see (a cluster master failing over to
  an empty replica while the sentinel lives on another master).
- At most `max_watchers` watchers at once; the next one is refused RESOURCE_EXHAUSTED.
- A watcher sees a job only if its caller may (`visible`, the caller's tenant scope):
  another tenant's job ends the watch as a job that does not exist would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from lingua_common.cancellation import reraise_if_cancelling
from services.dispatcher.errors import JobError, JobNotFound, ShuttingDown, WatchersFull
from services.dispatcher.model import JobEvent, JobRecord
from services.dispatcher.watch_store import (
    Announcements,
    JobSnapshot,
    SnapshotRead,
    SubscriptionRenewed,
)

logger = logging.getLogger(__name__)

LISTEN_TIMEOUT_S = 1.0
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0


@dataclass(frozen=True)
class WatchSettings:
    # Watchers this replica serves at once (LINGUA_MAX_WATCHERS).
    max_watchers: int = 20_000
    # How often the data-loss sentinel is checked (one command).
    loss_check_s: float = 1.0
    # How often every followed job is checked for a lost announcement or lost data
    # (one command per job: ~20 us of CPU each).
    sweep_s: float = 10.0
    # Jobs per pipelined read.
    batch: int = 256


class WatchSource(Protocol):
    async def snapshots(self, reads: list[SnapshotRead]) -> list[JobSnapshot]: ...

    async def last_event_ids(self, job_ids: list[str]) -> list[str | None]: ...

    async def ensure_sentinel(self) -> bool: ...

    def announcements(self) -> Announcements: ...


@dataclass(frozen=True)
class WatchUpdate:
    events: list[JobEvent]  # new to this watcher, oldest first
    record: JobRecord  # the job as it was read just after them


def not_found(job_id: str) -> JobNotFound:
    """The end of a watch whose job is gone, or that its caller may not see (alike)."""
    return JobNotFound(f"no job {job_id} (unknown, expired, or its data was lost)")


def id_order(event_id: str) -> tuple[int, int]:
    """Stream ids ("ms-seq") in their order; "" (nothing read yet) before every id."""
    if not event_id:
        return (-1, -1)
    ms, _, seq = event_id.partition("-")
    return (int(ms), int(seq or 0))


class Watcher:
    """One WatchJob stream's place in the hub: the updates it has not taken yet (at most
    the job's own events, so bounded by its lifecycle) and how it ended."""

    def __init__(self, job_id: str, visible: Callable[[JobRecord], bool] | None = None) -> None:
        self.job_id = job_id
        # Whether this watcher's caller may see the job (None: anyone).
        self.visible = visible
        self.after = ""  # the newest event id handed to this watcher
        self._updates: deque[WatchUpdate] = deque()
        self._end: JobError | None = None
        self._wake = asyncio.Event()

    async def next(self) -> WatchUpdate:
        """The next update; raises the JobError that ended the watch after the
        updates that came before it."""
        while not self._updates:
            if self._end is not None:
                raise self._end
            self._wake.clear()
            await self._wake.wait()
        return self._updates.popleft()

    def deliver(self, events: list[JobEvent], record: JobRecord) -> None:
        if self._end is not None:
            return
        if self.visible is not None and not self.visible(record):
            self.end(not_found(self.job_id))
            return
        new = [e for e in events if id_order(e.event_id) > id_order(self.after)]
        if new:
            self.after = new[-1].event_id
            self._updates.append(WatchUpdate(new, record))
            self._wake.set()

    def end(self, error: JobError) -> None:
        if self._end is None:
            self._end = error
            self._wake.set()


@dataclass
class _Followed:
    watchers: set[Watcher] = field(default_factory=set)
    marked: bool = False  # job_watch.lua has run for it (its events are announced)
    last_id: str = ""  # the newest event id this hub has read

    def oldest_cursor(self) -> str:
        return min((w.after for w in self.watchers), key=id_order, default="")


class WatchHub:
    def __init__(self, source: WatchSource, settings: WatchSettings) -> None:
        self._source = source
        self._settings = settings
        self._jobs: dict[str, _Followed] = {}
        self._count = 0
        self._dirty: dict[str, None] = {}  # jobs to read, in the order they came up
        self._has_dirty = asyncio.Event()
        self._closed = False

    @property
    def watchers(self) -> int:
        return self._count

    @property
    def followed_jobs(self) -> int:
        return len(self._jobs)

    # --- watchers (the servicer) --------------------------------------------------------

    def watch(self, job_id: str, visible: Callable[[JobRecord], bool] | None = None) -> Watcher:
        if self._closed:
            raise ShuttingDown("this dispatcher replica is shutting down; watch again")
        if self._count >= self._settings.max_watchers:
            raise WatchersFull(
                f"this dispatcher replica already serves {self._settings.max_watchers} "
                "watchers (LINGUA_MAX_WATCHERS); retry later"
            )
        watcher = Watcher(job_id, visible)
        self._jobs.setdefault(job_id, _Followed()).watchers.add(watcher)
        self._count += 1
        self._mark_dirty(job_id)  # its history so far
        return watcher

    def leave(self, watcher: Watcher) -> None:
        followed = self._jobs.get(watcher.job_id)
        if followed is None or watcher not in followed.watchers:
            return
        followed.watchers.discard(watcher)
        self._count -= 1
        if not followed.watchers:
            del self._jobs[watcher.job_id]
            self._dirty.pop(watcher.job_id, None)

    async def close(self) -> None:
        """Shutting down: end every watch (the caller watches again elsewhere)."""
        self._closed = True
        ending = ShuttingDown("this dispatcher replica is shutting down; watch again")
        for followed in self._jobs.values():
            for watcher in followed.watchers:
                watcher.end(ending)

    # --- what is new ----------------------------------------------------------------------

    def announced(self, job_id: str) -> None:
        if job_id in self._jobs:
            self._mark_dirty(job_id)

    def _mark_dirty(self, job_id: str) -> None:
        self._dirty[job_id] = None
        self._has_dirty.set()

    def _read_all_again(self) -> None:
        """After a reconnect or a loss: every followed job is read again, and marked
        again (a job created anew under its old id after a loss is not marked)."""
        for job_id, followed in self._jobs.items():
            followed.marked = False
            self._mark_dirty(job_id)

    async def read_once(self) -> int:
        """Read one batch of jobs with something new for their watchers; returns how
        many jobs were read. On an error they stay to be read again."""
        batch: list[str] = []
        while self._dirty and len(batch) < self._settings.batch:
            job_id = next(iter(self._dirty))
            del self._dirty[job_id]
            if job_id in self._jobs:
                batch.append(job_id)
        if not batch:
            return 0
        reads = [
            SnapshotRead(job_id, self._jobs[job_id].oldest_cursor(), not self._jobs[job_id].marked)
            for job_id in batch
        ]
        try:
            snapshots = await self._source.snapshots(reads)
        except BaseException:
            for job_id in batch:
                self._mark_dirty(job_id)
            raise
        for snapshot in snapshots:
            self._apply(snapshot)
        return len(batch)

    def _apply(self, snapshot: JobSnapshot) -> None:
        followed = self._jobs.get(snapshot.job_id)
        if followed is None:  # its watchers left while it was read
            return
        if snapshot.record is None:
            gone = not_found(snapshot.job_id)
            for watcher in followed.watchers:
                watcher.end(gone)
            return
        followed.marked = True
        if snapshot.events and id_order(snapshot.events[-1].event_id) > id_order(followed.last_id):
            followed.last_id = snapshot.events[-1].event_id
        for watcher in followed.watchers:
            watcher.deliver(snapshot.events, snapshot.record)

    async def check_loss_once(self) -> bool:
        """True when Redis lost its data since the last check: then every followed job
        is read again (and the ones that are gone end their watches)."""
        if not await self._source.ensure_sentinel():
            return False
        self._read_all_again()
        return True

    async def sweep_once(self) -> None:
        """The safety net: a job whose newest event this hub has not read (its
        announcement was lost), or that has no events any more (its data was lost), is
        read again."""
        job_ids = list(self._jobs)
        size = self._settings.batch
        for start in range(0, len(job_ids), size):
            chunk = job_ids[start : start + size]
            newest = await self._source.last_event_ids(chunk)
            for job_id, last in zip(chunk, newest, strict=True):
                followed = self._jobs.get(job_id)
                if followed is None:
                    continue
                if last is None or id_order(last) > id_order(followed.last_id):
                    self._mark_dirty(job_id)

    # --- the loops ----------------------------------------------------------------------

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read_loop(), name="watch hub reader")
            group.create_task(self._listen_loop(), name="watch hub subscription")
            group.create_task(self._check_loop(), name="watch hub checks")

    async def _read_loop(self) -> None:
        failures = 0
        while True:
            if not self._dirty:
                self._has_dirty.clear()
                await self._has_dirty.wait()
            try:
                await self.read_once()
                failures = 0
            except Exception as error:
                reraise_if_cancelling()
                failures += 1
                await self._pause_after(failures, "read", error)

    async def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        swept = loop.time()
        while True:
            await asyncio.sleep(self._settings.loss_check_s)
            try:
                await self.check_loss_once()
                if loop.time() - swept >= self._settings.sweep_s:
                    swept = loop.time()
                    await self.sweep_once()
                failures = 0
            except Exception as error:
                reraise_if_cancelling()
                failures += 1
                await self._pause_after(failures, "check", error)

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            subscription = self._source.announcements()
            try:
                await subscription.open()
                if failures:
                    logger.info("watch hub subscribed again")
                failures = 0
                # Whatever was announced while nobody listened is read now.
                self._read_all_again()
                while True:
                    try:
                        job_id = await subscription.next_job_id(LISTEN_TIMEOUT_S)
                    except SubscriptionRenewed:
                        logger.info("watch hub subscribed again after a reconnect")
                        self._read_all_again()
                        continue
                    if job_id is not None:
                        self.announced(job_id)
            except Exception as error:
                reraise_if_cancelling()
                failures += 1
                await self._pause_after(failures, "subscription", error)
            finally:
                with contextlib.suppress(Exception):
                    await subscription.close()

    @staticmethod
    async def _pause_after(failures: int, what: str, error: Exception) -> None:
        if failures == 1:
            logger.warning("watch hub %s failed; retrying", what, extra={"error": repr(error)})
        await asyncio.sleep(min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (failures - 1)))
