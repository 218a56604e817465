"""A session's outgoing messages, each translation_result stamped with its group.

Results leave in utterance order (ordering.py); their groups are decided in that same
order, one Redis call each (groups.py), before the result goes out. While a result is
being stamped, everything behind it (events, errors, other results) waits its turn, so
the client sees exactly the order the answers were decided in.

Should Redis not answer (groups.py bounds every call), the result still carries a group
of its own (part 0): the contract is that every result with a recognised text names a
group, and a playback report for it then changes nothing. The queue is bounded by those
bounds and by `limit`: beyond it, other messages overtake it rather than pile up.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from lingua_common.clock import Clock
from services.gateway.groups import (
    GroupMirror,
    GroupPart,
    GroupsUnavailableError,
    RedisGroupStore,
    new_group_id,
)

logger = logging.getLogger(__name__)

Message = dict[str, Any]
Emit = Callable[[Message], object]


def needs_group(message: Message) -> bool:
    return message.get("type") == "translation_result" and bool(message.get("text_asr"))


class GroupStamper:
    def __init__(
        self,
        groups: RedisGroupStore,
        session_id: str,
        clock: Clock,
        emit: Emit,
        *,
        limit: int = 1024,
    ) -> None:
        self._groups = groups
        self._limit = limit
        # The session's open group as decided here: the hints its next jobs carry.
        self.mirror = GroupMirror(groups.settings)
        self._session_id = session_id
        self._clock = clock
        self._emit = emit
        self._queue: deque[Message] = deque()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def send(self, message: Message) -> None:
        if message.get("type") == "translation_result" and not message.get("text_asr"):
            # Nothing was recognised: no group (the node's own fields would name one the
            # scheduler never counted).
            message.pop("group_id", None)
            message.pop("part_index", None)
        if not self._queue and not needs_group(message):
            self._emit(message)
            return
        if len(self._queue) >= self._limit and not needs_group(message):
            self._emit(message)  # never unbounded: this one overtakes the queue
            return
        self._queue.append(message)
        if self._task is None:
            self._idle.clear()
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._queue:
                message = self._queue[0]
                if needs_group(message):
                    part = await self._join(message)
                    message["group_id"], message["part_index"] = part.group_id, part.part_index
                    self.mirror.joined(part, message["text_asr"], self._clock.now_ms())
                self._queue.popleft()
                self._emit(message)
        finally:
            self._task = None
            self._idle.set()

    async def _join(self, message: Message) -> GroupPart:
        now = self._clock.now_ms()
        index = int(message["utterance_index"])
        try:
            return await self._groups.join(self._session_id, index, now)
        except GroupsUnavailableError as error:
            logger.warning(
                "the result gets a group of its own: %s",
                error,
                extra={"session_id": self._session_id, "utterance_index": index},
            )
        except Exception:  # never hold the session's answers back
            logger.exception(
                "the result gets a group of its own",
                extra={"session_id": self._session_id, "utterance_index": index},
            )
        return GroupPart(new_group_id(self._session_id, now), 0, True)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until everything queued went out (False when `timeout_s` passed first)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """The socket is gone: what is queued has nowhere to go."""
        self._queue.clear()
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
