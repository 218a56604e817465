"""Deterministic fake audio and the results a fake node derives from it.

Nodes and clients share these functions: a node answers with texts derived from the
audio it received, so a client can check that its own audio came back to its session.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

_FRAME_LEN = struct.Struct("<H")
_MIN_PACKET = 24
_PACKET_SPREAD = 56  # packets are 24..79 bytes, about the size of 20 ms Opus at 16 kHz
MAX_PACKET = 0xFFFF


def make_packet(tag: str, index: int, packet: int) -> bytes:
    """One pseudo-Opus packet, a pure function of (tag, index, packet)."""
    seed = f"{tag}\x00{index}\x00{packet}".encode()
    head = hashlib.blake2b(seed, digest_size=64).digest()
    size = _MIN_PACKET + head[0] % _PACKET_SPREAD
    return head[:size]


def frame(packets: Iterable[bytes]) -> bytes:
    """Join packets as a run of [u16 little-endian length][packet] frames."""
    parts: list[bytes] = []
    for packet in packets:
        if len(packet) > MAX_PACKET:
            raise ValueError(f"packet of {len(packet)} bytes does not fit a u16 length")
        parts.append(_FRAME_LEN.pack(len(packet)))
        parts.append(packet)
    return b"".join(parts)


def make_audio(tag: str, index: int, packets: int) -> bytes:
    """An Opus-like payload of `packets` frames for utterance `index` of stream `tag`."""
    if packets < 0:
        raise ValueError("packets must be >= 0")
    return frame(make_packet(tag, index, k) for k in range(packets))


def iter_packets(payload: bytes) -> Iterator[bytes]:
    """The packets of a framed payload; ValueError on a truncated frame."""
    view = memoryview(payload)
    pos = 0
    while pos < len(view):
        if pos + _FRAME_LEN.size > len(view):
            raise ValueError(f"truncated frame header at byte {pos}")
        (size,) = _FRAME_LEN.unpack_from(view, pos)
        pos += _FRAME_LEN.size
        if pos + size > len(view):
            raise ValueError(f"truncated packet at byte {pos}: wants {size} bytes")
        yield bytes(view[pos : pos + size])
        pos += size


def opus_packets(payload: bytes) -> int:
    """How many frames a payload holds."""
    return sum(1 for _ in iter_packets(payload))


def split_frames(payload: bytes, per_chunk: int) -> list[bytes]:
    """Cut a payload on frame boundaries into chunks of `per_chunk` frames each.

    The chunks concatenate back to the payload, as the server does with chunk payloads.
    """
    if per_chunk < 1:
        raise ValueError("per_chunk must be >= 1")
    packets = list(iter_packets(payload))
    return [frame(packets[i : i + per_chunk]) for i in range(0, len(packets), per_chunk)]


_SPOKEN = b"lang="


def make_spoken_audio(tag: str, index: int, packets: int, language: str) -> bytes:
    """Audio of someone speaking `language` (a two-way session): its first packet says
    which, so a fake node can "detect" it as a real one hears it."""
    if packets < 1:
        raise ValueError("packets must be >= 1")
    marker = _SPOKEN + language.encode()
    return frame([marker, *(make_packet(tag, index, k) for k in range(1, packets))])


def spoken_language(audio: bytes) -> str | None:
    """The language `make_spoken_audio` put in; None for other audio."""
    try:
        first = next(iter_packets(audio), b"")
    except ValueError:
        return None
    return first[len(_SPOKEN) :].decode() if first.startswith(_SPOKEN) else None


def asr_text_for(audio: bytes) -> str:
    """The recognised text a fake node returns for `audio`."""
    return "asr:" + hashlib.blake2b(audio, digest_size=8).hexdigest()


def translated_text_from_asr(asr_text: str, tgt_lang: str) -> str:
    """The translation of an already derived ASR text (lets clients keep only digests)."""
    return f"{tgt_lang}:{asr_text}"


def translated_text_for(audio: bytes, tgt_lang: str) -> str:
    """The translated text a fake node returns for `audio` into `tgt_lang`."""
    return translated_text_from_asr(asr_text_for(audio), tgt_lang)
