"""Audio files as the dispatcher's SubmitJob takes them.

- WAV (PCM, 16-bit, mono): the samples, audio_format "pcm16", the file's sample rate.
- Ogg Opus (.opus / .ogg, mono): the Opus packets framed as the network carries them
  (PROTOCOL.md: a run of [u16 little-endian length][packet]), audio_format "opus",
  sample rate 16000 (an Opus decoder produces any rate; the network's is 16 kHz).
- Raw PCM16 (.pcm / .raw): as is, with --sample-rate.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path

OPUS_SAMPLE_RATE = 16_000
OGG_MAGIC = b"OggS"
OPUS_HEAD = b"OpusHead"
OPUS_TAGS = b"OpusTags"
MAX_PACKET = 0xFFFF


class AudioError(ValueError):
    """The file cannot be sent; str() says why and what to do."""


@dataclass(frozen=True)
class Audio:
    data: bytes
    audio_format: str
    sample_rate: int
    duration_s: float | None


def read_audio(path: Path, sample_rate: int | None = None) -> Audio:
    try:
        head = path.read_bytes()[:12]
    except OSError as error:
        raise AudioError(f"cannot read {path}: {error.strerror or error}") from None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav(path)
    if head[:4] == OGG_MAGIC:
        return _ogg_opus(path)
    if path.suffix.lower() in (".pcm", ".raw"):
        if not sample_rate:
            raise AudioError(f"{path.name} is raw PCM16: pass --sample-rate")
        data = path.read_bytes()
        return Audio(data, "pcm16", sample_rate, len(data) / 2 / sample_rate)
    raise AudioError(f"{path.name}: not a WAV or Ogg Opus file (raw PCM16 needs a .pcm name)")


def _wav(path: Path) -> Audio:
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioError(f"{path.name}: unreadable WAV ({error})") from None
    if width != 2:
        raise AudioError(f"{path.name}: {8 * width}-bit WAV; only 16-bit PCM is sent")
    if channels != 1:
        raise AudioError(f"{path.name}: {channels} channels; convert it to mono first")
    return Audio(frames, "pcm16", rate, len(frames) / 2 / rate)


def ogg_packets(data: bytes) -> list[bytes]:
    """Every packet of the first logical stream of an Ogg file (RFC 3533)."""
    packets: list[bytes] = []
    partial = b""
    serial: int | None = None
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != OGG_MAGIC or offset + 27 > len(data):
            raise AudioError("broken Ogg page")
        page_serial = struct.unpack_from("<I", data, offset + 14)[0]
        count = data[offset + 26]
        lacing = data[offset + 27 : offset + 27 + count]
        body = offset + 27 + count
        end = body + sum(lacing)
        if len(lacing) != count or end > len(data):
            raise AudioError("truncated Ogg page")
        if serial is None:
            serial = page_serial
        if page_serial == serial:
            position = body
            for size in lacing:
                partial += data[position : position + size]
                position += size
                if size < 255:
                    packets.append(partial)
                    partial = b""
        offset = end
    return packets


def _ogg_opus(path: Path) -> Audio:
    packets = ogg_packets(path.read_bytes())
    if not packets or not packets[0].startswith(OPUS_HEAD):
        raise AudioError(f"{path.name}: an Ogg file without Opus audio")
    head = packets[0]
    channels = head[9] if len(head) > 9 else 0
    if channels != 1:
        raise AudioError(f"{path.name}: {channels} Opus channels; convert it to mono first")
    audio = [p for p in packets[1:] if not p.startswith(OPUS_TAGS)]
    if not audio:
        raise AudioError(f"{path.name}: no Opus audio packets")
    framed = b"".join(struct.pack("<H", len(p)) + p for p in audio if len(p) <= MAX_PACKET)
    return Audio(framed, "opus", OPUS_SAMPLE_RATE, None)
