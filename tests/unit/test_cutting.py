"""UtteranceCutter: the PROTOCOL.md cutting table and FAILURE_MODES.md #1, #2, #9, #11."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.cutting import (
    CutSettings,
    Trigger,
    Utterance,
    UtteranceCutter,
    audio_duration_ms,
    opus_packet_count,
)

SETTINGS = CutSettings()  # pause 3000, max 10 s, 500 KB, min pause cut 500 ms, opus 16 kHz


def opus(packets: int, tag: int = 0xAB, size: int = 3) -> bytes:
    """`packets` frames of [u16 LE length][packet]; 20 ms each."""
    return (struct.pack("<H", size) + bytes([tag]) * size) * packets


def speech(tag: int = 0xAB) -> bytes:
    """One second of Opus (50 packets): long enough to be cut on a pause."""
    return opus(50, tag)


# --- opus_packet_count / audio_duration_ms ------------------------------------------------


def test_opus_packet_count_counts_length_prefixed_frames():
    assert opus_packet_count(b"") == 0
    assert opus_packet_count(opus(7)) == 7
    assert opus_packet_count(struct.pack("<H", 0)) == 1  # an empty packet is still a packet


def test_opus_packet_count_ignores_a_torn_tail():
    assert opus_packet_count(opus(2) + struct.pack("<H", 10) + b"abc") == 2
    assert opus_packet_count(opus(2) + b"\x05") == 2


def test_opus_duration_is_twenty_ms_per_packet_whatever_the_packet_size():
    assert audio_duration_ms(opus(50, size=1), "opus", 16_000) == 1000
    assert audio_duration_ms(opus(50, size=200), "opus", 16_000) == 1000


def test_pcm16_duration_is_two_bytes_a_sample():
    assert audio_duration_ms(b"\0" * 32_000, "pcm16", 16_000) == 1000
    assert audio_duration_ms(b"\0" * 32, "pcm16", 16_000) == 1
    assert audio_duration_ms(b"\0" * 16_000, "pcm16", 8_000) == 1000


# --- the cutting table ----------------------------------------------------------------------


def test_manual_cut_finalizes_on_is_final_with_manual_trigger():
    cutter = UtteranceCutter(SETTINGS)
    assert cutter.add_chunk(0, speech(1), False, now_ms=0) is None
    cut = cutter.add_chunk(1, b"", True, now_ms=100)
    assert cut == Utterance(index=0, audio=speech(1), duration_ms=1000, trigger=Trigger.MANUAL)
    assert cutter.next_index == 1
    assert not cutter.has_audio


def test_is_final_chunk_with_payload_includes_that_payload():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(5, 1), False, now_ms=0)
    cut = cutter.add_chunk(1, opus(5, 2), True, now_ms=10)
    assert cut is not None
    assert cut.audio == opus(5, 1) + opus(5, 2)
    assert cut.duration_ms == 200


def test_pause_cuts_exactly_pause_ms_after_the_last_chunk():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(), False, now_ms=1000)
    cutter.add_chunk(1, speech(), False, now_ms=1500)
    assert cutter.pause_deadline_ms() == 4500
    assert cutter.poll(4499) is None
    cut = cutter.poll(4500)
    assert cut is not None
    assert (cut.index, cut.trigger, cut.duration_ms) == (0, Trigger.PAUSE, 2000)
    assert cutter.pause_deadline_ms() is None


def test_max_duration_counts_opus_packets_and_cuts_when_reached():
    cutter = UtteranceCutter(CutSettings(max_duration_ms=1000))
    assert cutter.add_chunk(0, opus(25), False, now_ms=0) is None  # 500 ms
    assert cutter.add_chunk(1, opus(24), False, now_ms=1) is None  # 980 ms
    cut = cutter.add_chunk(2, opus(1), False, now_ms=2)  # 1000 ms
    assert cut is not None
    assert (cut.trigger, cut.duration_ms, cut.index) == (Trigger.MAX_DURATION, 1000, 0)


def test_max_duration_is_not_fooled_by_large_opus_packets():
    # 1 s of audio in big packets is still 1 s: duration comes from packets, not bytes.
    cutter = UtteranceCutter(CutSettings(max_duration_ms=2000))
    assert cutter.add_chunk(0, opus(50, size=900), False, now_ms=0) is None


def test_max_duration_for_pcm16_is_exact_over_many_small_chunks():
    # 30 bytes = 15 samples = 0.9375 ms each: per-chunk rounding must not lose time.
    cutter = UtteranceCutter(CutSettings(audio_format="pcm16", max_duration_ms=100))
    cuts = [cutter.add_chunk(seq, b"\0" * 30, False, now_ms=seq) for seq in range(107)]
    assert all(c is None for c in cuts[:106])  # 106 chunks = 99.375 ms
    assert cuts[106] is not None  # 107 chunks = 100.3125 ms
    assert (cuts[106].trigger, cuts[106].duration_ms) == (Trigger.MAX_DURATION, 100)


def test_byte_cap_cuts_with_max_size_trigger_and_no_flag_trigger():
    cutter = UtteranceCutter(CutSettings(max_bytes=1000))
    assert cutter.add_chunk(0, opus(1, size=600), False, now_ms=0) is None
    cut = cutter.add_chunk(1, opus(1, size=600), False, now_ms=1)
    assert cut is not None
    assert cut.trigger == Trigger.MAX_SIZE
    assert len(cut.audio) == 1204


def test_close_finalizes_what_is_buffered():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(3), False, now_ms=0)  # a blip: close still sends it
    cut = cutter.close()
    assert cut is not None
    assert (cut.index, cut.trigger, cut.audio) == (0, Trigger.CLOSE, opus(3))
    assert cutter.close() is None


def test_empty_buffer_is_never_finalized():
    cutter = UtteranceCutter(SETTINGS)
    assert cutter.add_chunk(0, b"", True, now_ms=0) is None
    assert cutter.poll(1_000_000) is None
    assert cutter.close() is None
    assert cutter.next_index == 0


def test_index_advances_by_exactly_one_per_finalize():
    cutter = UtteranceCutter(SETTINGS, first_index=5)
    indexes = []
    for n in range(4):
        cutter.add_chunk(2 * n, speech(n), False, now_ms=10 * n)
        cut = cutter.add_chunk(2 * n + 1, b"", True, now_ms=10 * n + 1)
        assert cut is not None
        indexes.append(cut.index)
    assert indexes == [5, 6, 7, 8]
    assert cutter.next_index == 9


def test_a_cut_takes_an_index_above_every_index_the_session_took_otherwise():
    cutter = UtteranceCutter(SETTINGS)
    cutter.raise_next_index(2)  # `utterance` messages 0 and 1 were accepted
    cutter.add_chunk(0, speech(), False, now_ms=0)
    cutter.raise_next_index(4)  # utterance 3 came while this audio was buffering
    cutter.raise_next_index(1)  # an older index never lowers it
    cut = cutter.add_chunk(1, b"", True, now_ms=1)
    assert cut is not None and cut.index == 4
    assert cutter.next_index == 5


def test_audio_is_payloads_in_seq_order_when_chunks_arrive_out_of_order():
    cutter = UtteranceCutter(SETTINGS)
    for seq in (2, 0, 3, 1):
        cutter.add_chunk(seq, opus(1, tag=seq), False, now_ms=seq)
    cut = cutter.close()
    assert cut is not None
    assert cut.audio == opus(1, 0) + opus(1, 1) + opus(1, 2) + opus(1, 3)


def test_duplicate_seq_is_ignored_in_audio_bytes_and_duration():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, opus(2, 1), False, now_ms=0)
    cutter.add_chunk(0, opus(2, 9), False, now_ms=1)
    assert cutter.buffered_bytes == len(opus(2, 1))
    cut = cutter.close()
    assert cut is not None
    assert (cut.audio, cut.duration_ms) == (opus(2, 1), 40)


def test_chunks_after_a_finalize_belong_to_the_next_index():
    cutter = UtteranceCutter(SETTINGS)
    first = cutter.add_chunk(0, speech(1), True, now_ms=0)
    cutter.add_chunk(1, speech(2), False, now_ms=1)
    second = cutter.close()
    assert first is not None and second is not None
    assert (first.index, first.audio) == (0, speech(1))
    assert (second.index, second.audio) == (1, speech(2))


# --- FAILURE_MODES.md regressions -------------------------------------------------------------


def test_failure_1_pause_and_is_final_racing_give_one_utterance_per_index():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(), False, now_ms=0)
    by_pause = cutter.poll(3000)
    by_final = cutter.add_chunk(1, b"", True, now_ms=3000)  # the client's is_final, just late
    assert by_pause is not None and by_pause.index == 0
    assert by_final is None
    assert cutter.next_index == 1


def test_failure_1_is_final_then_pause_poll_gives_one_utterance_per_index():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(), False, now_ms=0)
    cuts = [cutter.add_chunk(1, b"", True, now_ms=2999), cutter.poll(3000), cutter.poll(9999)]
    assert [c.index for c in cuts if c is not None] == [0]


def test_failure_2_a_stale_pause_poll_after_a_manual_cut_does_nothing():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(1), False, now_ms=0)
    assert cutter.add_chunk(1, b"", True, now_ms=100) is not None
    assert cutter.poll(3000) is None  # the old deadline has no buffer left to cut
    assert cutter.next_index == 1


def test_failure_2_a_poll_after_a_manual_cut_uses_the_current_buffer_and_index():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(1), True, now_ms=0)
    cutter.add_chunk(1, speech(2), False, now_ms=2000)
    assert cutter.poll(3000) is None  # 3 s after the *old* chunk, only 1 s after the new one
    cut = cutter.poll(5000)
    assert cut is not None
    assert (cut.index, cut.audio) == (1, speech(2))


def test_failure_9_tts_playback_suspends_the_pause_rule():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(), False, now_ms=0)
    cutter.playback_started(now_ms=100)
    # Suspended for as long as playback may last (max_playback_ms), not pause_ms.
    assert cutter.poll(3000) is None
    assert cutter.poll(30_000) is None


def test_failure_9_tts_play_ended_restarts_the_pause_timer():
    cutter = UtteranceCutter(SETTINGS)
    cutter.add_chunk(0, speech(), False, now_ms=0)
    cutter.playback_started(now_ms=10)
    cutter.playback_ended(now_ms=5000)
    assert cutter.poll(7999) is None  # not 3 s after the last chunk: 3 s after playback end
    cut = cutter.poll(8000)
    assert cut is not None and cut.trigger == Trigger.PAUSE


def test_failure_11_a_vad_blip_is_not_cut_on_pause_and_joins_the_next_speech():
    cutter = UtteranceCutter(SETTINGS)
    blip = opus(10, tag=1)  # 200 ms < min_pause_cut_ms
    cutter.add_chunk(0, blip, False, now_ms=0)
    assert cutter.poll(3000) is None  # a pause does not cut a blip
    assert cutter.poll(5999) is None  # it waits blip_hold_ms for more speech
    cutter.add_chunk(1, speech(2), False, now_ms=5000)
    assert cutter.poll(7999) is None
    cut = cutter.poll(8000)
    assert cut is not None
    assert (cut.index, cut.audio, cut.duration_ms) == (0, blip + speech(2), 1200)


def test_failure_11_a_manual_cut_still_sends_a_blip():
    cutter = UtteranceCutter(SETTINGS)
    cut = cutter.add_chunk(0, opus(10), True, now_ms=0)
    assert cut is not None
    assert (cut.trigger, cut.duration_ms) == (Trigger.MANUAL, 200)


# --- property ----------------------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("chunk"), st.integers(0, 40), st.integers(0, 60), st.booleans()),
        st.tuples(st.just("poll"), st.integers(0, 5000)),
        st.tuples(st.just("playback"), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, close=st.booleans())
def test_property_indexes_consecutive_and_audio_conserved(ops, close):
    cutter = UtteranceCutter(CutSettings(max_duration_ms=1000, max_bytes=2000))
    now = 0
    cuts: list[Utterance] = []
    accepted_bytes = 0
    buffer: dict[int, bytes] = {}  # the model: distinct payloads of the current index

    def check(cut: Utterance | None) -> None:
        nonlocal buffer
        if cut is None:
            return
        assert cut.audio == b"".join(buffer[seq] for seq in sorted(buffer))
        buffer = {}
        cuts.append(cut)

    for op in ops:
        now += 7  # the clock only moves forward
        if op[0] == "chunk":
            _, seq, packets, final = op
            data = opus(packets, tag=seq)  # a seq always carries the same bytes
            if data and seq not in buffer:
                buffer[seq] = data
                accepted_bytes += len(data)
            check(cutter.add_chunk(seq, data, final, now))
        elif op[0] == "poll":
            now += op[1]
            check(cutter.poll(now))
        elif op[1]:
            cutter.playback_started(now)
        else:
            cutter.playback_ended(now)
        assert cutter.buffered_bytes == sum(len(p) for p in buffer.values())
    if close:
        check(cutter.close())
        assert not cutter.has_audio
    assert [c.index for c in cuts] == list(range(len(cuts)))
    assert all(c.audio for c in cuts)
    assert sum(len(c.audio) for c in cuts) + cutter.buffered_bytes == accepted_bytes
