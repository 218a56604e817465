"""UtteranceCutter never holds audio forever: the bounded blip hold (FAILURE_MODES #11
without a flood), the bounded TTS playback suspension (#9 with a lost tts_play_ended),
and the byte cap exactly as PROTOCOL.md words it ("exceeds")."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.cutting import CutSettings, Trigger, UtteranceCutter

SETTINGS = CutSettings()  # pause 3000, blip hold 6000, min pause cut 500, playback 30 s


def opus(packets: int, tag: int = 0xAB, size: int = 3) -> bytes:
    return (struct.pack("<H", size) + bytes([tag]) * size) * packets


def test_defaults_match_the_protocol_table() -> None:
    assert (SETTINGS.pause_ms, SETTINGS.max_duration_ms, SETTINGS.max_bytes) == (
        3000,
        10_000,
        500 * 1024,
    )


def test_a_blip_alone_is_cut_after_the_hold_with_the_pause_flag() -> None:
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(10), False, now_ms=1000)  # 200 ms
    assert cutter.pause_deadline_ms() == 1000 + SETTINGS.blip_hold_ms
    assert cutter.poll(6999) is None
    cut = cutter.poll(7000)
    assert cut is not None
    assert (cut.index, cut.trigger, cut.duration_ms) == (0, Trigger.PAUSE, 200)


def test_a_vad_that_stops_after_200_ms_does_not_flood_tiny_jobs() -> None:
    """FAILURE_MODES #11: 200 ms of speech, 800 ms of nothing, for a minute."""
    cutter = UtteranceCutter(SETTINGS)
    cuts = []
    for second in range(60):
        now = second * 1000
        cut = cutter.add_chunk(second, opus(10, tag=second % 256), False, now_ms=now)
        for at in range(now, now + 1000, 50):  # the gateway's ticker
            cut = cut or cutter.poll(at)
        if cut is not None:
            cuts.append(cut)
    # Blips join into utterances of a useful size; none is a ~200 ms job.
    assert cuts, "audio must not be held forever"
    assert all(c.duration_ms >= SETTINGS.min_pause_cut_ms for c in cuts)
    assert len(cuts) <= 60 * 200 // SETTINGS.max_duration_ms + 1


def test_isolated_blips_make_at_most_one_tiny_job_per_hold() -> None:
    cutter = UtteranceCutter(SETTINGS)
    tiny = []
    for n in range(10):
        start = n * 7000  # a blip every 7 s, each alone
        cutter.add_chunk(n, opus(10, tag=n), False, now_ms=start)
        cut = None
        for at in range(start, start + 7000, 50):
            cut = cut or cutter.poll(at)
        assert cut is not None and cut.index == n
        tiny.append(cut)
    assert [c.index for c in tiny] == list(range(10))


def test_byte_cap_cuts_only_when_exceeded() -> None:
    cutter = UtteranceCutter(CutSettings(max_bytes=1000))
    exactly = opus(1, size=998)  # one packet, 1000 bytes with its length prefix
    assert cutter.add_chunk(0, exactly, False, now_ms=0) is None  # reached, not exceeded
    cut = cutter.add_chunk(1, b"\x01", False, now_ms=1)
    assert cut is not None
    assert (cut.trigger, len(cut.audio)) == (Trigger.MAX_SIZE, 1001)


def test_a_lost_tts_play_ended_suspends_the_pause_rule_only_for_max_playback() -> None:
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(50), False, now_ms=0)
    cutter.playback_started(now_ms=1000)
    resume = 1000 + SETTINGS.max_playback_ms
    assert cutter.pause_deadline_ms() == resume + SETTINGS.pause_ms
    assert cutter.poll(resume + SETTINGS.pause_ms - 1) is None
    cut = cutter.poll(resume + SETTINGS.pause_ms)
    assert cut is not None and cut.trigger == Trigger.PAUSE


def test_speech_during_playback_is_held_and_the_timer_restarts_at_play_end() -> None:
    cutter = UtteranceCutter(SETTINGS)
    cutter.playback_started(now_ms=0)
    cutter.add_chunk(0, opus(50), False, now_ms=500)  # barge-in while TTS plays
    assert cutter.poll(10_000) is None
    cutter.playback_ended(now_ms=12_000)
    assert cutter.poll(14_999) is None
    cut = cutter.poll(15_000)
    assert cut is not None and cut.index == 0


def test_a_second_tts_started_does_not_extend_the_bound() -> None:
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(50), False, now_ms=0)
    cutter.playback_started(now_ms=0)
    cutter.playback_started(now_ms=20_000)  # a repeat of the same playback
    assert cutter.pause_deadline_ms() == SETTINGS.max_playback_ms + SETTINGS.pause_ms


def test_a_manual_cut_during_playback_still_cuts_at_once() -> None:
    cutter = UtteranceCutter(SETTINGS)
    cutter.playback_started(now_ms=0)
    cut = cutter.add_chunk(0, opus(5), True, now_ms=10)
    assert cut is not None and cut.trigger == Trigger.MANUAL


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("chunk"), st.integers(0, 30), st.integers(0, 80)),
        st.tuples(st.just("wait"), st.integers(0, 40_000)),
        st.tuples(st.just("play"), st.booleans()),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_property_buffered_audio_always_has_a_bounded_deadline(ops) -> None:  # type: ignore[no-untyped-def]
    s = SETTINGS
    cutter = UtteranceCutter(s)
    now = last_chunk = 0
    for op in ops:
        now += 1
        if op[0] == "chunk":
            cutter.add_chunk(op[1], opus(op[2], tag=op[1]), False, now)
            last_chunk = now
        elif op[0] == "wait":
            now += op[1]
            cutter.poll(now)
        elif op[1]:
            cutter.playback_started(now)
        else:
            cutter.playback_ended(now)
        deadline = cutter.pause_deadline_ms()
        if cutter.has_audio:
            # Whatever happened, buffered audio has a deadline, and a bounded one.
            assert deadline is not None
            assert deadline <= max(now, last_chunk) + s.max_playback_ms + s.blip_hold_ms
        else:
            assert deadline is None
