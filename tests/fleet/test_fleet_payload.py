"""Fake audio framing and the result derivation shared by fake nodes and clients."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.fleet import payload


def test_frame_round_trip() -> None:
    packets = [b"", b"a", b"\x00" * 300]
    framed = payload.frame(packets)
    assert framed[:2] == struct.pack("<H", 0)
    assert list(payload.iter_packets(framed)) == packets
    assert payload.opus_packets(framed) == 3


def test_make_audio_is_deterministic_and_distinct() -> None:
    audio = payload.make_audio("c0", 3, 10)
    assert audio == payload.make_audio("c0", 3, 10)
    assert audio != payload.make_audio("c1", 3, 10)
    assert audio != payload.make_audio("c0", 4, 10)
    assert payload.opus_packets(audio) == 10
    assert all(24 <= len(p) < 80 for p in payload.iter_packets(audio))
    assert payload.make_audio("c0", 3, 0) == b""


def test_truncated_payload_is_rejected() -> None:
    audio = payload.make_audio("c0", 0, 2)
    with pytest.raises(ValueError, match="truncated packet"):
        payload.opus_packets(audio[:-1])
    with pytest.raises(ValueError, match="truncated frame header"):
        payload.opus_packets(audio + b"\x05")
    with pytest.raises(ValueError):
        payload.make_audio("c0", 0, -1)
    with pytest.raises(ValueError):
        payload.frame([b"x" * 0x10000])


def test_split_frames_keeps_framing() -> None:
    audio = payload.make_audio("c0", 1, 10)
    chunks = payload.split_frames(audio, 3)
    assert [payload.opus_packets(c) for c in chunks] == [3, 3, 3, 1]
    assert b"".join(chunks) == audio


def test_result_derivation() -> None:
    audio = payload.make_audio("c0", 0, 5)
    asr = payload.asr_text_for(audio)
    assert asr == payload.asr_text_for(bytes(audio))
    assert asr.startswith("asr:") and len(asr) == 4 + 16
    assert asr != payload.asr_text_for(audio[:-1])
    assert payload.translated_text_for(audio, "en") == "en:" + asr
    assert payload.translated_text_from_asr(asr, "zh") == payload.translated_text_for(audio, "zh")


@given(tag=st.text(max_size=20), index=st.integers(0, 2**64 - 1), packets=st.integers(0, 60))
def test_make_audio_counts_its_packets(tag: str, index: int, packets: int) -> None:
    audio = payload.make_audio(tag, index, packets)
    assert payload.opus_packets(audio) == packets
    assert audio == payload.make_audio(tag, index, packets)


@given(
    packets=st.lists(st.binary(max_size=200), max_size=30),
    per_chunk=st.integers(1, 8),
)
def test_any_packets_round_trip(packets: list[bytes], per_chunk: int) -> None:
    framed = payload.frame(packets)
    assert list(payload.iter_packets(framed)) == packets
    chunks = payload.split_frames(framed, per_chunk)
    assert b"".join(chunks) == framed
    assert sum(payload.opus_packets(c) for c in chunks) == len(packets)
