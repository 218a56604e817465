"""Per-session result ordering: answers leave in utterance_index order, exactly once.

Every accepted utterance index is expected; an answer for a later index waits while an
earlier one is unanswered, but only for a bounded time: then the earlier index gets a
JOB_TIMEOUT error of its own and the later answers flow. A second answer for an index
(a duplicate result, a late one after the timeout) is dropped.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


@dataclass
class _Pending:
    expected_at_ms: int
    answer: list[Message] | None = None
    job_id: str = ""
    trace_id: str = ""


@dataclass
class ResultOrderer:
    answer_timeout_ms: int
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _heap: list[int] = field(default_factory=list)
    _answered: set[int] = field(default_factory=set)
    _answered_order: deque[int] = field(default_factory=deque)
    max_remembered: int = 4096

    def expect(self, index: int, now_ms: int) -> bool:
        """Register an accepted utterance; False when the index was already accepted."""
        if index in self._pending or index in self._answered:
            return False
        self._pending[index] = _Pending(expected_at_ms=now_ms)
        heapq.heappush(self._heap, index)
        return True

    def note_job(self, index: int, job_id: str, trace_id: str) -> None:
        pending = self._pending.get(index)
        if pending is not None:
            pending.job_id, pending.trace_id = job_id, trace_id

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def offer(self, index: int, messages: list[Message]) -> list[Message]:
        """Record the answer for an index; returns what may be sent now, in order."""
        pending = self._pending.get(index)
        if pending is None or pending.answer is not None:
            return []
        pending.answer = messages
        return self._flush()

    def expire(self, now_ms: int, session_id: str) -> list[Message]:
        """Time out the head index if it waited too long; returns what may be sent now."""
        out: list[Message] = []
        while self._heap:
            head = self._pending[self._heap[0]]
            if head.answer is not None or now_ms - head.expected_at_ms < self.answer_timeout_ms:
                break
            index = self._heap[0]
            head.answer = [timeout_error(session_id, index, head.job_id, head.trace_id)]
            out.extend(self._flush())
        return out

    def unanswered(self, index: int) -> bool:
        pending = self._pending.get(index)
        return pending is not None and pending.answer is None

    def accepted_at_ms(self, index: int) -> int | None:
        pending = self._pending.get(index)
        return pending.expected_at_ms if pending is not None else None

    def give_up(self, session_id: str, code: str, message: str) -> list[Message]:
        """Answer every unanswered index with an error of its own (the session is ending)."""
        for index, pending in self._pending.items():
            if pending.answer is None:
                pending.answer = [
                    index_error(session_id, index, pending.job_id, pending.trace_id, code, message)
                ]
        return self._flush()

    def next_deadline_ms(self) -> int | None:
        if not self._heap:
            return None
        return self._pending[self._heap[0]].expected_at_ms + self.answer_timeout_ms

    def _flush(self) -> list[Message]:
        out: list[Message] = []
        while self._heap:
            index = self._heap[0]
            answer = self._pending[index].answer
            if answer is None:
                break
            heapq.heappop(self._heap)
            del self._pending[index]
            self._remember(index)
            out.extend(answer)
        return out

    def _remember(self, index: int) -> None:
        self._answered.add(index)
        self._answered_order.append(index)
        if len(self._answered_order) > self.max_remembered:
            self._answered.discard(self._answered_order.popleft())


def timeout_error(session_id: str, index: int, job_id: str, trace_id: str) -> Message:
    return index_error(
        session_id,
        index,
        job_id,
        trace_id,
        "JOB_TIMEOUT",
        f"no result for utterance {index} in time",
    )


def index_error(
    session_id: str, index: int, job_id: str, trace_id: str, code: str, message: str
) -> Message:
    return {
        "type": "error",
        "code": code,
        "message": message,
        "details": {
            "utterance_index": index,
            "job_id": job_id,
            "trace_id": trace_id,
            "session_id": session_id,
        },
    }
