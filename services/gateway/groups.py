"""Utterance groups (PROTOCOL.md "Utterance groups"): session state in Redis.

A session has at most one open group. Each answered utterance with a recognised text
joins it, unless more than `window_ms` have passed since the group's last
`tts_play_ended` (or its creation, if nothing was played yet): then a new group opens
(`group_<session>_<ms>`, parts counted from 0). `tts_started` / `tts_play_ended` move the
open group's playback times, on the scheduler's clock.

The state lives in two keys of the session's hash tag ({session:ID}), changed only by
Lua scripts, so every gateway replica that holds (or takes over) the session makes the
same decision. The open group is also a hint for the node: a job cut while it is open
carries its id, next part and recent source texts (`context_text`, bounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lingua_common.keys import Keys
from lingua_common.redis_client import LuaScripts, RedisClient, run_pipeline


@dataclass(frozen=True)
class GroupSettings:
    # A result joins the open group within this long after its last playback ended.
    window_ms: int = 2_000
    # Longest context_text a job_assign carries (characters, the newest kept).
    context_chars: int = 200
    # Recent source texts kept per group for that context.
    texts_kept: int = 8
    # The group keys outlive an idle session this long (refreshed on every change).
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


def new_group_id(session_id: str, now_ms: int) -> str:
    return f"group_{session_id}_{now_ms}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisGroupStore:
    def __init__(
        self, client: RedisClient, scripts: LuaScripts, keys: Keys, settings: GroupSettings
    ) -> None:
        self._r: Any = client
        self._lua = scripts
        self._keys = keys
        self.settings = settings

    def _group_keys(self, session_id: str) -> list[str]:
        return [self._keys.session_group(session_id), self._keys.session_group_texts(session_id)]

    async def join(
        self, session_id: str, utterance_index: int, text: str, now_ms: int
    ) -> GroupPart:
        """The group and part of an answered utterance whose recognised text is `text`."""
        s = self.settings
        reply = await self._lua.run(
            "group_result",
            self._group_keys(session_id),
            [
                now_ms,
                s.window_ms,
                new_group_id(session_id, now_ms),
                utterance_index,
                text[-s.context_chars :],
                s.texts_kept,
                s.ttl_ms,
            ],
        )
        return GroupPart(_text(reply[0]), int(reply[1]), int(reply[2]) == 1)

    async def playback(self, session_id: str, group_id: str, what: Playback, now_ms: int) -> bool:
        """Record a playback start or end of the open group; False for another group."""
        moved = await self._lua.run(
            "group_playback",
            [self._keys.session_group(session_id)],
            [now_ms, group_id, what.value, self.settings.ttl_ms],
        )
        return int(moved) == 1

    async def hint(self, session_id: str, now_ms: int) -> GroupHint | None:
        """The open group a result would join now, or None (a new group would open)."""
        group, texts = self._group_keys(session_id)

        def reads(pipe: Any) -> None:
            pipe.hmget(group, "id", "created_ms", "ended_ms", "parts")
            pipe.lrange(texts, 0, -1)

        (group_id, created, ended, parts), recent = await run_pipeline(self._r, reads)
        if group_id is None:
            return None
        anchor = int(ended or created or 0)
        if now_ms - anchor > self.settings.window_ms:
            return None
        context = " ".join(_text(t) for t in recent)[-self.settings.context_chars :]
        return GroupHint(_text(group_id), int(parts or 0), context)

    async def forget(self, session_id: str) -> None:
        """The session is gone: its groups with it."""
        await self._r.delete(*self._group_keys(session_id))
