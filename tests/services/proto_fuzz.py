"""Hypothesis strategies for any protobuf message, built from its descriptor: every field
may be left out or set — to ordinary values, boundary numbers, unknown enum values,
NaN, huge strings and byte strings, NUL and other control characters, long lists —
at any depth. What the services' gRPC request messages are fuzzed with."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st

from lingua_common import limits

F = FieldDescriptor
# Values that mean something somewhere (ids, languages, formats, tokens, stream ids),
# and values that must be refused (huge, NUL, separators, out of range).
NOTABLE_TEXT = [
    "",
    "zh",
    "en",
    "auto",
    "zh-Hant-TW",
    "pcm16",
    "opus",
    "n-1",
    "j-1",
    "sess-1",
    "gw-fuzz",
    "acme",
    "0-0",
    "1700000000000-1",
    "99999999999999999999-1",
    "18446744073709551615",
    "1" + "0" * 30,
    "-1",
    "*",
    "a:b",
    "{node:x}",
    "\x00",
    "tab\there",
    "é" * 40,
    "x" * 100_000,
]
NOTABLE_BYTES = [b"", b"\x00", b"{}", b"x" * 5_000_000]


# Values a field of each kind in the table of limits takes when it is right: most draws
# use them, so the fuzz gets past validation into the services' logic.
PLAUSIBLE: dict[int, list[str]] = {
    id(limits.ID): ["n-1", "n-2", "j-1", "sess-1", "gw-fuzz", "asr-1"],
    id(limits.TENANT): ["acme", "fuzz"],
    id(limits.LANGUAGE): ["zh", "en", "de", "auto"],
    id(limits.AUDIO_FORMAT): ["pcm16", "opus"],
    id(limits.POOL_ID): ["zh:en#0", "en<->zh#0"],
    id(limits.STREAM_ID): ["0-0", "1700000000000-1"],
    id(limits.PAGE_TOKEN): ["", "1", "zh:en#0"],
}


def text(field: FieldDescriptor, wild: bool) -> st.SearchStrategy[str]:
    hostile = st.one_of(st.sampled_from(NOTABLE_TEXT), st.text(max_size=16))
    rule = limits.STRING_RULES.get(field.name)
    plausible = st.sampled_from(PLAUSIBLE.get(id(rule), ["asr", "2.0", "reason"]))
    if wild:
        return st.one_of(plausible, hostile)
    return st.integers(0, 19).flatmap(lambda n: hostile if n == 0 else plausible)


def _scalar(field: FieldDescriptor, wild: bool) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == F.TYPE_STRING:
        return text(field, wild)
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32) and not wild:
        return st.sampled_from([16_000] if field.name == "sample_rate" else [0, 1, 4])
    if kind == F.TYPE_ENUM and not wild:
        return st.integers(min_value=0, max_value=3)
    if kind == F.TYPE_BYTES and not wild:
        if field.name.endswith("_json"):
            return st.sampled_from([b"{}", b'{"emotion": "calm"}'])
        return st.binary(min_size=1, max_size=16)
    return _any_scalar(field)


def _any_scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == F.TYPE_STRING:
        return text(field, wild=True)
    if kind == F.TYPE_BYTES:
        return st.one_of(st.sampled_from(NOTABLE_BYTES), st.binary(max_size=16))
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind == F.TYPE_ENUM:
        return st.integers(-1, 12)
    if kind in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        width = 32 if kind == F.TYPE_FLOAT else 64
        return st.floats(allow_nan=True, allow_infinity=True, width=width)
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return st.one_of(
            st.sampled_from([0, 1, 16_000, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1)
        )
    if kind in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return st.one_of(
            st.sampled_from([0, 1, 2**53, 2**63, 2**64 - 1]), st.integers(0, 2**64 - 1)
        )
    if kind in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return st.integers(-(2**31), 2**31 - 1)
    return st.integers(-(2**63), 2**63 - 1)


SMALL = {F.TYPE_STRING: "zh", F.TYPE_BYTES: b"x", F.TYPE_BOOL: True, F.TYPE_ENUM: 1}


def _repeated(field: FieldDescriptor, wild: bool) -> st.SearchStrategy[list[Any]]:
    short = st.lists(_scalar(field, wild), max_size=3)
    if not wild:
        return short
    # Now and then a list longer than any bound in the table.
    return st.one_of(short, st.just([SMALL.get(field.type, 1)] * 20_001))


def messages(descriptor: Descriptor, depth: int = 3) -> st.SearchStrategy[Message]:
    """A message of this type with any subset of its fields set: a wild one (anything,
    anywhere) or a plausible one (right values but for one now and then), half each."""
    return st.booleans().flatmap(lambda wild: _message(descriptor, depth, wild))


@st.composite
def _message(draw: st.DrawFn, descriptor: Descriptor, depth: int, wild: bool) -> Message:
    message = GetMessageClass(descriptor)()
    for field in descriptor.fields:
        if draw(st.integers(0, 2 if wild else 9)) == 0:  # left out
            continue
        if field.type == F.TYPE_MESSAGE:
            if depth == 0 or field.message_type is None:
                continue
            inner = _message(field.message_type, depth - 1, wild)
            if field.is_repeated:
                for value in draw(st.lists(inner, max_size=3)):
                    getattr(message, field.name).add().CopyFrom(value)
            else:
                getattr(message, field.name).CopyFrom(draw(inner))
        elif field.is_repeated:
            getattr(message, field.name).extend(draw(_repeated(field, wild)))
        else:
            setattr(message, field.name, draw(_scalar(field, wild)))
    return message
