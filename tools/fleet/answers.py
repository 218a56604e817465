"""A fake client's bookkeeping: what it sent, what came back, and whether it was right.

Pure logic (no sockets), so the checks are easy to test on their own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tools.fleet import payload
from tools.fleet.metrics import LatencyRecorder
from tools.fleet.wire import JsonObject

log = logging.getLogger(__name__)

AnswerKind = Literal["result", "empty", "missing", "error"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The first answer to one utterance."""

    client: str
    session_id: str
    utterance_index: int
    kind: AnswerKind
    correct: bool | None  # None when there is nothing to check (empty, missing, error)
    latency_s: float | None
    tgt_lang: str
    text_asr: str = ""
    text_translated: str = ""
    error_code: str | None = None
    group_id: str | None = None  # the utterance group a result was put in
    part_index: int | None = None


@dataclass
class ClientReport:
    name: str
    session_id: str | None = None
    sent: int = 0
    answered: int = 0
    correct: int = 0
    wrong: int = 0
    empty: int = 0
    missing_results: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)  # answers that are errors
    session_errors: dict[str, int] = field(default_factory=dict)  # errors about no utterance
    error_samples: list[str] = field(default_factory=list)  # the first few, to tell them apart
    out_of_order: int = 0
    duplicates: int = 0  # answers beyond an utterance's first
    duplicated: int = 0  # utterances answered more than once
    unexpected: int = 0  # answers for an index never sent
    init_error: str | None = None
    connection_lost: bool = False
    protocol_violations: int = 0  # received messages that do not fit PROTOCOL.md
    violation_samples: list[str] = field(default_factory=list)
    groups: int = 0  # distinct utterance groups the results named
    ungrouped: int = 0  # results with a recognised text but no group_id (off PROTOCOL.md)
    playbacks: int = 0  # tts_play_ended reports sent (each naming a group received)

    @property
    def unanswered(self) -> int:
        return self.sent - self.answered

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["unanswered"] = self.unanswered
        return data


_ERROR_SAMPLES = 5


@dataclass(slots=True)
class _Pending:
    asr: str  # the text a node derives from the audio sent; the audio itself is not kept
    sent_at: float
    tgt_lang: str  # the language the answer must be in (per utterance in two-way mode)


class AnswerBook:
    def __init__(
        self,
        name: str,
        tgt_lang: str,
        recorder: LatencyRecorder | None = None,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self.name = name
        self.tgt_lang = tgt_lang
        self.session_id = ""
        self._recorder = recorder
        self._on_answer = on_answer
        self._pending: dict[int, _Pending] = {}
        self._answered: set[int] = set()
        self._last_ordered = -1
        self._sent = 0
        self._kinds: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._session_errors: Counter[str] = Counter()
        self._error_samples: list[str] = []
        self._out_of_order = 0
        self._duplicates = 0
        self._duplicated: set[int] = set()
        self._unexpected = 0
        self._groups = 0  # a session's groups follow one another: count the changes
        self._last_group: str | None = None
        self._ungrouped = 0
        self._playbacks = 0

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def sent(self, index: int, audio: bytes, at: float, tgt_lang: str | None = None) -> None:
        self._sent += 1
        self._pending[index] = _Pending(payload.asr_text_for(audio), at, tgt_lang or self.tgt_lang)
        if self._recorder is not None:
            self._recorder.utterance_sent(self.session_id, index, at)

    def on_message(self, message: JsonObject, at: float) -> Answer | None:
        """Account for one server message; the Answer when it answers an utterance."""
        kind = message["type"]
        if kind == "translation_result":
            return self._on_result(message, at)
        if kind == "missing_result":
            index = _index(message.get("utterance_index"))
            if index is None:
                return None
            return self._answer(index, "missing", at)
        if kind == "error":
            return self._on_error(message, at)
        return None

    def _on_result(self, message: JsonObject, at: float) -> Answer | None:
        index = _index(message.get("utterance_index"))
        if index is None:
            log.warning("%s: translation_result without utterance_index", self.name)
            return None
        asr = str(message.get("text_asr") or "")
        translated = str(message.get("text_translated") or "")
        if not asr and not translated:
            return self._answer(index, "empty", at)
        group_id, part_index = message.get("group_id"), message.get("part_index")
        if not isinstance(group_id, str) or not group_id:
            group_id = None
            self._ungrouped += 1
            log.warning("%s: result %d without a group_id", self.name, index)
        elif group_id != self._last_group:
            self._groups += 1
            self._last_group = group_id
        pending = self._pending.get(index)
        correct = None
        if pending is not None:
            expected = payload.translated_text_from_asr(pending.asr, pending.tgt_lang)
            correct = asr == pending.asr and translated == expected
        return self._answer(
            index,
            "result",
            at,
            correct=correct,
            asr=asr,
            translated=translated,
            group=(group_id, part_index if isinstance(part_index, int) else None),
        )

    def played(self, group_id: str) -> None:
        """A result's TTS was played and reported (tts_play_ended with its group)."""
        self._playbacks += 1

    def _on_error(self, message: JsonObject, at: float) -> Answer | None:
        code = str(message.get("code") or "UNKNOWN")
        details = message.get("details")
        if not isinstance(details, dict):
            details = {}
        index = _index(details.get("utterance_index"))
        if index is None:
            self._session_errors[code] += 1
            log.warning("%s: server error %s: %s", self.name, code, message.get("message"))
            return None
        if len(self._error_samples) < _ERROR_SAMPLES:
            self._error_samples.append(
                f"{self.session_id} #{index} {code}: {message.get('message')} "
                f"(job {details.get('job_id', '')})"
            )
        return self._answer(index, "error", at, error_code=code)

    def _check_order(self, index: int) -> None:
        if index < self._last_ordered:
            self._out_of_order += 1
            log.warning("%s: answer %d after %d", self.name, index, self._last_ordered)
        else:
            self._last_ordered = index

    def _answer(
        self,
        index: int,
        kind: AnswerKind,
        at: float,
        *,
        correct: bool | None = None,
        asr: str = "",
        translated: str = "",
        error_code: str | None = None,
        group: tuple[str | None, int | None] = (None, None),
    ) -> Answer | None:
        pending = self._pending.pop(index, None)
        if pending is None:
            if index in self._answered:
                self._duplicates += 1
                self._duplicated.add(index)
            else:
                self._unexpected += 1
            return None
        self._answered.add(index)
        if kind != "error":  # errors may come out of turn; results and missing_result may not
            self._check_order(index)
        self._kinds[kind] += 1
        if kind == "result":
            self._kinds["correct" if correct else "wrong"] += 1
        if error_code is not None:
            self._errors[error_code] += 1
        if self._recorder is not None:
            self._recorder.answer_received(self.session_id, index, at)
        answer = Answer(
            client=self.name,
            session_id=self.session_id,
            utterance_index=index,
            kind=kind,
            correct=correct,
            latency_s=at - pending.sent_at,
            tgt_lang=pending.tgt_lang,
            text_asr=asr,
            text_translated=translated,
            error_code=error_code,
            group_id=group[0],
            part_index=group[1],
        )
        if self._on_answer is not None:
            self._on_answer(answer)
        return answer

    def report(self) -> ClientReport:
        return ClientReport(
            name=self.name,
            session_id=self.session_id or None,
            sent=self._sent,
            answered=len(self._answered),
            correct=self._kinds["correct"],
            wrong=self._kinds["wrong"],
            empty=self._kinds["empty"],
            missing_results=self._kinds["missing"],
            errors_by_code=dict(self._errors),
            session_errors=dict(self._session_errors),
            error_samples=list(self._error_samples),
            out_of_order=self._out_of_order,
            duplicates=self._duplicates,
            duplicated=len(self._duplicated),
            unexpected=self._unexpected,
            groups=self._groups,
            ungrouped=self._ungrouped,
            playbacks=self._playbacks,
        )


def _index(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None
