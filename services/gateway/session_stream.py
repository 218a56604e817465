"""Streamed audio of one session: utterance cutting and the INPUT_* events around it.

`INPUT_STARTED` goes out with the first audio of an utterance index, `INPUT_ENDED` when
that index is cut (its `hint` names the rule that cut it, `elapsed_ms` is the audio's
duration). Neither has a job yet: `job_id` is "" and `trace_id` is the session's trace
(the one in `session_init_ack`); the job's own trace follows from DISPATCHED on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lingua.common.v1 import job_pb2
from services.gateway.cutting import CutSettings, Trigger, Utterance, UtteranceCutter
from services.gateway.wire import out
from services.gateway.wire.client_in import AudioChunk

Emit = Callable[[dict[str, Any]], object]

CUT_FLAGS = {
    Trigger.MANUAL: "is_manual_cut",
    Trigger.PAUSE: "is_timeout_triggered",
    Trigger.MAX_DURATION: "is_max_duration_triggered",
}


class AudioStream:
    def __init__(self, settings: CutSettings, session_id: str, trace_id: str, emit: Emit) -> None:
        self._settings = settings
        self._cutter = UtteranceCutter(settings)
        self._session_id = session_id
        self._trace_id = trace_id
        self._emit = emit

    @property
    def has_audio(self) -> bool:
        return self._cutter.has_audio

    @property
    def buffered_bytes(self) -> int:
        return self._cutter.buffered_bytes

    def add(self, chunk: AudioChunk, now_ms: int) -> Utterance | None:
        index = self._cutter.next_index
        was_empty = not self._cutter.has_audio
        cut = self._cutter.add_chunk(chunk.seq, chunk.payload, chunk.is_final, now_ms)
        if was_empty and (cut is not None or self._cutter.has_audio):
            self._emit(out.ui_event(self._session_id, "INPUT_STARTED", index, "", self._trace_id))
        return self._ended(cut)

    def index_taken(self, index: int) -> None:
        """An utterance took `index` (its own, or a cut's): the next cut goes above it."""
        self._cutter.raise_next_index(index + 1)

    def poll(self, now_ms: int) -> Utterance | None:
        return self._ended(self._cutter.poll(now_ms))

    def close(self) -> Utterance | None:
        return self._ended(self._cutter.close())

    def playback_started(self, now_ms: int) -> None:
        self._cutter.playback_started(now_ms)

    def playback_ended(self, now_ms: int) -> None:
        self._cutter.playback_ended(now_ms)

    def _ended(self, cut: Utterance | None) -> Utterance | None:
        if cut is not None:
            self._emit(
                out.ui_event(
                    self._session_id,
                    "INPUT_ENDED",
                    cut.index,
                    "",
                    self._trace_id,
                    elapsed_ms=cut.duration_ms,
                    hint=cut.trigger.value,
                )
            )
        return cut

    def job_spec(self, cut: Utterance, defaults: job_pb2.JobSpec) -> job_pb2.JobSpec:
        """The job for one cut: the session's options, the audio, the flag of its rule."""
        spec = job_pb2.JobSpec()
        spec.CopyFrom(defaults)
        spec.utterance_index = cut.index
        spec.audio = cut.audio
        spec.audio_format = self._settings.audio_format
        spec.sample_rate = self._settings.sample_rate
        flag = CUT_FLAGS.get(cut.trigger)
        if flag is not None:
            setattr(spec, flag, True)
        return spec
