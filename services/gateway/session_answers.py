"""What a session hears back: ordered answers plus the progress events around them.

- Answers (translation_result, missing_result, error) leave in utterance order, once
  each; a gap waits `answer_timeout_ms`, then that index gets JOB_TIMEOUT (ordering.py).
- A translation_result with a translation is preceded by `ui_event NMT_DONE` for the
  same utterance (`elapsed_ms`: from acceptance by the gateway to the answer).
- A node's asr_partial is forwarded at once, with `ui_event ASR_PARTIAL`, or
  `ASR_FINAL` when the partial is final.
- tts_started / tts_play_ended are acknowledged with `ui_event TTS_PLAY_STARTED` /
  `TTS_PLAY_ENDED`, for the utterance whose answer carried that trace_id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from services.gateway.ordering import ResultOrderer
from services.gateway.wire import out

Emit = Callable[[dict[str, Any]], object]

# Answered utterances whose trace a later tts_started may name.
REMEMBERED_TRACES = 256


class Answers:
    def __init__(self, session_id: str, answer_timeout_ms: int, emit: Emit) -> None:
        self._session_id = session_id
        self._orderer = ResultOrderer(answer_timeout_ms)
        self._emit = emit
        self._traces: OrderedDict[str, tuple[int, str]] = OrderedDict()

    @property
    def outstanding(self) -> int:
        return self._orderer.outstanding

    def unanswered(self, index: int) -> bool:
        return self._orderer.unanswered(index)

    def expect(self, index: int, now_ms: int) -> bool:
        return self._orderer.expect(index, now_ms)

    def note_job(self, index: int, job_id: str, trace_id: str) -> None:
        self._orderer.note_job(index, job_id, trace_id)

    def outcome(self, job: job_pb2.JobRef, outcome: gw_pb.UtteranceOutcome, now_ms: int) -> None:
        index = job.utterance_index
        messages = out.outcome_messages(self._session_id, job, outcome, now_ms)
        first = messages[0]
        if first["type"] == "translation_result" and first["text_translated"]:
            accepted = self._orderer.accepted_at_ms(index)
            elapsed = now_ms - accepted if accepted is not None else None
            done = out.ui_event(
                self._session_id, "NMT_DONE", index, job.job_id, job.trace_id, elapsed_ms=elapsed
            )
            messages.insert(0, done)
        for message in self._orderer.offer(index, messages):
            self._remember(message)
            self._emit(message)

    def error(
        self, index: int, job_id: str, trace_id: str, code: str, message: str, now_ms: int
    ) -> None:
        self.outcome(
            job_pb2.JobRef(job_id=job_id, utterance_index=index, trace_id=trace_id),
            gw_pb.UtteranceOutcome(
                error=job_pb2.JobError(code=code or "INTERNAL_ERROR", message=message)
            ),
            now_ms,
        )

    def partial(self, job: job_pb2.JobRef, partial: gw_pb.AsrPartial) -> None:
        self._emit(out.asr_partial(self._session_id, job, partial))
        self._emit(
            out.ui_event(
                self._session_id,
                "ASR_FINAL" if partial.is_final else "ASR_PARTIAL",
                job.utterance_index,
                job.job_id,
                job.trace_id,
            )
        )

    def event(self, job: job_pb2.JobRef, event: gw_pb.UiEvent) -> None:
        self._emit(out.ui_event_message(self._session_id, job, event))

    def playback(self, trace_id: str, ended: bool) -> None:
        index, job_id = self._traces.get(trace_id, (0, ""))
        event = "TTS_PLAY_ENDED" if ended else "TTS_PLAY_STARTED"
        self._emit(out.ui_event(self._session_id, event, index, job_id, trace_id))

    def expire(self, now_ms: int) -> None:
        for message in self._orderer.expire(now_ms, self._session_id):
            self._emit(message)

    def give_up(self, code: str, message: str) -> None:
        for answer in self._orderer.give_up(self._session_id, code, message):
            self._emit(answer)

    def _remember(self, message: dict[str, Any]) -> None:
        if message["type"] != "translation_result" or not message["trace_id"]:
            return
        self._traces[message["trace_id"]] = (message["utterance_index"], message["job_id"])
        while len(self._traces) > REMEMBERED_TRACES:
            self._traces.popitem(last=False)
