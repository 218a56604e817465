"""Server-side utterance cutting of streamed audio_chunks (PROTOCOL.md table).

Pure and synchronous: the session asks it what to cut, with "now" from a clock.
Finalizing swaps the buffer and advances the index in one step, so there is only one
finalize per index and chunks arriving afterwards belong to the next index. There are
no per-utterance timers: the pause rule is a deadline checked against the *current*
buffer, so a stale timer can never finalize an old index.

Nothing is held forever: a VAD blip (shorter than `min_pause_cut_ms`) waits the longer
`blip_hold_ms` for more speech instead of `pause_ms`, and TTS playback suspends the pause
rule for at most `max_playback_ms` (a `tts_started` whose `tts_play_ended` never comes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

OPUS_PACKET_MS = 20


class Trigger(StrEnum):
    MANUAL = "manual"
    PAUSE = "pause"
    MAX_DURATION = "max_duration"
    MAX_SIZE = "max_size"
    CLOSE = "close"


@dataclass(frozen=True)
class CutSettings:
    pause_ms: int = 3000
    max_duration_ms: int = 10_000
    max_bytes: int = 500 * 1024
    # A pause never cuts less than this (a VAD blip) after `pause_ms`: the blip waits up
    # to `blip_hold_ms` of quiet to join the next speech, then is cut all the same. So a
    # VAD that stops after 200 ms yields at most one tiny job per hold, never a flood.
    min_pause_cut_ms: int = 500
    blip_hold_ms: int = 6000
    # TTS playback suspends the pause rule; a lost tts_play_ended counts as sent this late.
    max_playback_ms: int = 30_000
    audio_format: str = "opus"
    sample_rate: int = 16_000


@dataclass(frozen=True)
class Utterance:
    index: int
    audio: bytes
    duration_ms: int
    trigger: Trigger


def opus_packet_count(payload: bytes) -> int:
    """Packets in a run of [u16 little-endian length][packet] frames (a torn tail is ignored)."""
    count, offset, size = 0, 0, len(payload)
    while offset + 2 <= size:
        (length,) = struct.unpack_from("<H", payload, offset)
        offset += 2 + length
        if offset > size:
            break
        count += 1
    return count


def audio_duration_ms(payload: bytes, audio_format: str, sample_rate: int) -> int:
    if audio_format == "opus":
        return opus_packet_count(payload) * OPUS_PACKET_MS
    return pcm16_duration_ms(len(payload), sample_rate)


def pcm16_duration_ms(size: int, sample_rate: int) -> int:
    # PCM16 mono: two bytes a sample.
    return (size // 2) * 1000 // max(sample_rate, 1)


class UtteranceCutter:
    def __init__(self, settings: CutSettings, first_index: int = 0) -> None:
        self._settings = settings
        self.next_index = first_index
        self._chunks: dict[int, bytes] = {}
        self._bytes = 0
        self._duration_ms = 0
        self._last_activity_ms = 0
        # When the current TTS playback started (None: nothing is playing).
        self._playback_since: int | None = None

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    @property
    def has_audio(self) -> bool:
        return self._bytes > 0

    def add_chunk(self, seq: int, payload: bytes, is_final: bool, now_ms: int) -> Utterance | None:
        if payload and seq not in self._chunks:
            self._chunks[seq] = payload
            self._bytes += len(payload)
            s = self._settings
            if s.audio_format == "opus":
                self._duration_ms += audio_duration_ms(payload, s.audio_format, s.sample_rate)
            else:
                # PCM: from the total, so per-chunk rounding never loses time.
                self._duration_ms = pcm16_duration_ms(self._bytes, s.sample_rate)
        self._last_activity_ms = now_ms
        if is_final:
            return self._finalize(Trigger.MANUAL)
        if self._duration_ms >= self._settings.max_duration_ms:
            return self._finalize(Trigger.MAX_DURATION)
        if self._bytes > self._settings.max_bytes:
            return self._finalize(Trigger.MAX_SIZE)
        return None

    def pause_deadline_ms(self) -> int | None:
        """When the pause rule will cut the current buffer, if nothing else arrives."""
        if not self._bytes:
            return None
        s = self._settings
        quiet_since = self._last_activity_ms
        if self._playback_since is not None:
            # While TTS plays the speaker is listening: silence is not the end of a turn.
            quiet_since = max(quiet_since, self._playback_since + s.max_playback_ms)
        wait = s.pause_ms if self._duration_ms >= s.min_pause_cut_ms else s.blip_hold_ms
        return quiet_since + wait

    def poll(self, now_ms: int) -> Utterance | None:
        deadline = self.pause_deadline_ms()
        if deadline is None or now_ms < deadline:
            return None
        return self._finalize(Trigger.PAUSE)

    @property
    def playing(self) -> bool:
        return self._playback_since is not None

    def playback_started(self, now_ms: int) -> None:
        if self._playback_since is None:
            self._playback_since = now_ms

    def playback_ended(self, now_ms: int) -> None:
        """The pause timer restarts: the speaker may answer what they just heard."""
        self._playback_since = None
        self._last_activity_ms = max(self._last_activity_ms, now_ms)

    def close(self) -> Utterance | None:
        return self._finalize(Trigger.CLOSE)

    def raise_next_index(self, index: int) -> None:
        """The session took indexes below `index` by other means (`utterance` messages):
        the next cut, including the one being buffered, takes one at or above it."""
        self.next_index = max(self.next_index, index)

    def _finalize(self, trigger: Trigger) -> Utterance | None:
        if not self._bytes:
            return None
        audio = b"".join(self._chunks[seq] for seq in sorted(self._chunks))
        utterance = Utterance(self.next_index, audio, self._duration_ms, trigger)
        self.next_index += 1
        self._chunks = {}
        self._bytes = 0
        self._duration_ms = 0
        return utterance
