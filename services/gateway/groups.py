"""Utterance groups (PROTOCOL.md "Utterance groups"): session state in Redis.

A session has at most one open group. Each answered utterance with a recognised text
joins it, unless more than `window_ms` have passed since the group's last
`tts_play_ended` (or its creation, if nothing was played yet): then a new group opens
(`group_<session>_<ms>`, parts counted from 0). `tts_started` / `tts_play_ended` move the
open group's playback times, on the scheduler's clock.

The state lives in one key of the session's hash tag ({session:ID}), changed only by
Lua scripts, so every gateway replica that holds (or takes over) the session makes the
same decision. The open group is also a hint for the node: a job cut while it is open
carries its id, next part and recent source texts (`context_text`, bounded). The hint
comes from the session's own copy (GroupMirror, kept from the decisions and playback
reports this replica saw): no Redis call on the way to a job, and a hint that is off
changes no decision.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from redis.exceptions import RedisError

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient

T = TypeVar("T")

# Groups add Redis calls to the utterance path; an unreachable Redis (a cluster failing
# over, a client still meeting a dead master) must cost utterances little. Each call is
# bounded, and once one failed, calls fail at once for a short while instead of each
# waiting out its bound: a job then goes without its hint, a playback report is dropped
# (the socket's audio waits behind it), a result gets a group of its own.
CALL_TIMEOUT_S = 1.0
BACK_OFF_S = 2.0


class GroupsUnavailableError(Exception):
    """Redis did not answer a group call (or did not lately): decide without it."""


@dataclass(frozen=True)
class GroupSettings:
    # A result joins the open group within this long after its last playback ended.
    window_ms: int = 2_000
    # Longest context_text a job_assign carries (characters, the newest kept).
    context_chars: int = 200
    # Recent source texts kept (by the session's replica) for that context.
    texts_kept: int = 8
    # The group key outlives an idle session this long (refreshed on every change).
    ttl_ms: int = 6 * 3600 * 1000


@dataclass(frozen=True)
class GroupPart:
    """Where one answered utterance went."""

    group_id: str
    part_index: int
    opened: bool


@dataclass(frozen=True)
class GroupHint:
    """The open group as a job cut now would join it (a hint for the node's NMT)."""

    group_id: str
    part_index: int
    context_text: str


class Playback(StrEnum):
    STARTED = "started"
    ENDED = "ended"


class GroupMirror:
    """What this replica knows of its session's open group, for the hints jobs carry."""

    def __init__(self, settings: GroupSettings) -> None:
        self._settings = settings
        self._group_id = ""
        self._anchor_ms = 0  # the group's creation, or its last playback end
        self._parts = 0
        self._texts: deque[str] = deque(maxlen=max(1, settings.texts_kept))

    def joined(self, part: GroupPart, text: str, now_ms: int) -> None:
        """A result was put in `part` (by the Redis decision)."""
        if part.group_id != self._group_id:
            self._group_id, self._anchor_ms = part.group_id, now_ms
            self._texts.clear()
        self._parts = part.part_index + 1  # results are decided one at a time, in order
        if text:
            self._texts.append(text[-self._settings.context_chars :])

    def played(self, group_id: str, what: Playback, now_ms: int) -> None:
        if what is Playback.ENDED and group_id == self._group_id:
            self._anchor_ms = now_ms

    def open_group(self) -> tuple[str, int, int] | None:
        """(group id, anchor ms, parts) of the group this replica last saw, if any."""
        return (self._group_id, self._anchor_ms, self._parts) if self._group_id else None

    def hint(self, now_ms: int) -> GroupHint | None:
        """The open group a result would join now, or None (a new one would open)."""
        if not self._group_id or now_ms - self._anchor_ms > self._settings.window_ms:
            return None
        context = " ".join(self._texts)[-self._settings.context_chars :]
        return GroupHint(self._group_id, self._parts, context)


def new_group_id(session_id: str, now_ms: int) -> str:
    return f"group_{session_id}_{now_ms}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisGroupStore:
    def __init__(
        self,
        client: RedisClient,
        scripts: LuaScripts,
        keys: Keys,
        settings: GroupSettings,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self.settings = settings
        self._monotonic = monotonic
        self._failing_until = 0.0

    async def _bounded(self, call: Awaitable[T]) -> T:
        """`call`, within CALL_TIMEOUT_S; GroupsUnavailableError when it failed, or when
        another call failed less than BACK_OFF_S ago."""
        if self._monotonic() < self._failing_until:
            if inspect.iscoroutine(call):
                call.close()  # never started
            raise GroupsUnavailableError("groups unavailable (a recent call failed)")
        try:
            return await asyncio.wait_for(call, CALL_TIMEOUT_S)
        except (TimeoutError, RedisError) as error:
            self._failing_until = self._monotonic() + BACK_OFF_S
            raise GroupsUnavailableError(f"groups unavailable: {error!r}") from error

    async def join(self, session_id: str, utterance_index: int, now_ms: int) -> GroupPart:
        """The group and part of an answered utterance (with a recognised text)."""
        reply = await self._bounded(
            self._lua.run(
                "group_result",
                [self._keys.session_group(session_id)],
                [
                    now_ms,
                    self.settings.window_ms,
                    new_group_id(session_id, now_ms),
                    utterance_index,
                    self.settings.ttl_ms,
                ],
            )
        )
        return GroupPart(_text(reply[0]), int(reply[1]), int(reply[2]) == 1)

    async def playback(self, session_id: str, group_id: str, what: Playback, now_ms: int) -> bool:
        """Record a playback start or end of the open group; False for another group."""
        moved = await self._bounded(
            self._lua.run(
                "group_playback",
                [self._keys.session_group(session_id)],
                [now_ms, group_id, what.value, self.settings.ttl_ms],
            )
        )
        return int(moved) == 1

    async def restore(self, session_id: str, group: tuple[str, int, int]) -> bool:
        """Redis lost its data: write the session's open group back (unless a decision
        was made since). True when written."""
        group_id, anchor_ms, parts = group
        restored = await self._bounded(
            self._lua.run(
                "group_restore",
                [self._keys.session_group(session_id)],
                [group_id, anchor_ms, parts, self.settings.ttl_ms],
            )
        )
        return int(restored) == 1

    async def forget(self, session_id: str) -> None:
        """The session is gone: its groups with it."""
        await self._r.delete(self._keys.session_group(session_id))
