"""Every bound on what a caller may send, in one table, and the checks that apply it.

One table serves every edge: the gRPC servicers (team API and service API, through
`check_message`, which walks any request by its field names) and the gateway's
WebSocket validators (services/gateway/wire/fields.py looks each JSON field up by
name). A refusal names the field and echoes at most a short prefix of the bad value
(`preview`), so neither an error nor a log line grows with what a caller sent.

Fields are looked up by their last name (`installed_models[3].model_id` -> `model_id`),
so a rule holds wherever the field appears; a field without a rule of its own gets the
default bound of its type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

# --- the table ----------------------------------------------------------------------------

# Ids: job, node, session, request, gateway, model, service, group ids. Letters, digits
# and . _ - : / @ + = ~ (no spaces, control characters, braces or glob characters: ids
# end up inside Redis keys with hash tags and in PSUBSCRIBE patterns).
ID_MAX_CHARS = 128
ID_PATTERN = re.compile(r"[A-Za-z0-9._\-:/@+=~]+")
# Tenants: ids without ":" (team request ids are namespaced "api:<tenant>:<request id>")
# and never "*" (the operator's mark in a token table).
TENANT_MAX_CHARS = 64
TENANT_PATTERN = re.compile(r"[A-Za-z0-9._\-]+")
# Pool ids are "<src>:<tgt>#<shard>" or "<a><-><b>#<shard>".
POOL_ID_PATTERN = re.compile(r"[A-Za-z0-9._\-:#<>]+")
# Trace ids a client chose: anything printable, short.
TOKEN_MAX_CHARS = 128
# Language codes: BCP-47-like ("zh", "en-US", "zh-Hant-TW", "yue"), "_" tolerated as
# the separator, or "auto" (two-way mode), which the pattern admits.
LANGUAGE_MAX_CHARS = 35
LANGUAGE_PATTERN = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8}){0,4}")
# Audio: what a node can be asked to decode.
AUDIO_FORMATS = frozenset(
    {"pcm16", "pcm", "pcm_s16le", "wav", "opus", "ogg", "webm", "mp3", "flac", "aac", "amr"}
)
SAMPLE_RATE_MIN, SAMPLE_RATE_MAX = 8_000, 192_000
AUDIO_MAX_BYTES = 4 * 1024 * 1024  # one job's audio (team API, link, WebSocket ceiling)
TTS_AUDIO_MAX_BYTES = 8 * 1024 * 1024  # one result's synthesized audio
JSON_MAX_BYTES = 64 * 1024  # features, extra, error details (JSON carried as bytes)
BYTES_MAX = 64 * 1024  # any other bytes field
# Text: short labels by default; notes (reasons, errors) and texts (transcripts) longer.
TEXT_MAX_CHARS = 1_024
NOTE_MAX_CHARS = 16 * 1024
LONG_TEXT_MAX_CHARS = 64 * 1024
# Listings.
PAGE_SIZE_MAX = 1_000
PAGE_TOKEN_MAX_CHARS = 256
PAGE_OFFSET_MAX = 2**53  # a numeric page token (an offset, a time, a cursor)
CANDIDATES_MAX = 1_000  # FindCandidates.limit
# Lists: a repeated field without a bound of its own holds at most this many.
LIST_MAX = 10_000
LIST_BOUNDS: Mapping[str, int] = {
    # A node's description (register, heartbeat, pool index entries).
    "installed_models": 512,
    "installed_services": 128,
    "capability_by_type": 64,
    "nmt_capabilities": 128,
    "languages": 512,
    "asr_languages": 512,
    "tts_languages": 512,
    "semantic_languages": 512,
    "blocked_pairs": 8_192,
    "supported_pairs": 8_192,
    "gpus": 64,
    "advanced_features": 128,
    "ready_impl_ids": 64,
    "ready_service_types": 32,
    "required_service_types": 32,
    # A job.
    "auto_langs": 16,
    "reason_codes": 64,
    # Batches between the services.
    "beats": 1_000,
    "exclude_node_ids": 1_024,
    "changes": 10_000,
    # A gateway's hello names every node socket it holds.
    "nodes": 200_000,
}
# How much of a bad value an error (or a log line) shows.
ECHO_CHARS = 16


class LimitError(ValueError):
    """A value outside the table; str() names the field and shows a short prefix."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}' {problem}")
        self.field = field
        self.problem = problem


def preview(value: str | bytes) -> str:
    """At most ECHO_CHARS of `value`, escaped (a control character never reaches a log)."""
    head = value[:ECHO_CHARS]
    shown = repr(head)
    return shown + ("…" if len(value) > ECHO_CHARS else "")


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextRule:
    """A string of at most `max_chars`; with a pattern, only those characters."""

    max_chars: int
    pattern: re.Pattern[str] | None = None
    what: str = ""
    allow_control: bool = True

    def check(self, field: str, value: str) -> None:
        if len(value) > self.max_chars:
            raise LimitError(
                field, f"is too long ({len(value)} characters; at most {self.max_chars})"
            )
        if self.pattern is not None and value and not self.pattern.fullmatch(value):
            raise LimitError(field, f"is not {self.what}: {preview(value)}")
        if not self.allow_control and not value.isprintable():
            raise LimitError(field, f"has a control character: {preview(value)}")


@dataclass(frozen=True)
class OneOfRule:
    allowed: frozenset[str]

    def check(self, field: str, value: str) -> None:
        if value and value not in self.allowed:
            raise LimitError(
                field, f"must be one of {', '.join(sorted(self.allowed))}, not {preview(value)}"
            )


@dataclass(frozen=True)
class BytesRule:
    max_bytes: int

    def check(self, field: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            raise LimitError(field, f"is too large ({len(value)} bytes; at most {self.max_bytes})")


@dataclass(frozen=True)
class RangeRule:
    """An integer within [low, high]; 0 means "not given" (required-ness is the RPC's)."""

    low: int
    high: int

    def check(self, field: str, value: int) -> None:
        if value and not self.low <= value <= self.high:
            raise LimitError(field, f"must be within {self.low}..{self.high}, not {value}")


@dataclass(frozen=True)
class StreamIdRule:
    """A Redis stream entry id, "<ms>-<seq>", each part a 64-bit unsigned number."""

    def check(self, field: str, value: str) -> None:
        ms, sep, seq = value.partition("-")
        parts = (ms, seq) if sep else ()
        if value and not (
            parts
            and all(p.isascii() and p.isdigit() and len(p) <= 20 for p in parts)
            and all(int(p) < 2**64 for p in parts)
        ):
            raise LimitError(field, f'is not an event id ("<ms>-<seq>"): {preview(value)}')


ID = TextRule(ID_MAX_CHARS, ID_PATTERN, "an id (letters, digits and . _ - : / @ + = ~)")
TENANT = TextRule(TENANT_MAX_CHARS, TENANT_PATTERN, "a tenant id (letters, digits and . _ -)")
POOL_ID = TextRule(ID_MAX_CHARS, POOL_ID_PATTERN, "a pool id")
LANGUAGE = TextRule(
    LANGUAGE_MAX_CHARS, LANGUAGE_PATTERN, 'a language code (e.g. "en-US") or "auto"'
)
TOKEN = TextRule(TOKEN_MAX_CHARS, allow_control=False)
PAGE_TOKEN = TextRule(PAGE_TOKEN_MAX_CHARS, POOL_ID_PATTERN, "a page token from a previous page")
STREAM_ID = StreamIdRule()
TEXT = TextRule(TEXT_MAX_CHARS)
NOTE = TextRule(NOTE_MAX_CHARS)
LONG_TEXT = TextRule(LONG_TEXT_MAX_CHARS)
AUDIO_FORMAT = OneOfRule(AUDIO_FORMATS)

StringRule = TextRule | OneOfRule | StreamIdRule
STRING_RULES: Mapping[str, StringRule] = {
    **dict.fromkeys(
        (
            "node_id",
            "job_id",
            "session_id",
            "request_id",
            "gateway_id",
            "dispatcher_id",
            "model_id",
            "service_id",
            "group_id",
            "turn_id",
            "credential_fingerprint",
            "ready_impl_ids",
            "exclude_node_ids",
            "node_ids",
        ),
        ID,
    ),
    "tenant_id": TENANT,
    **dict.fromkeys(("pool_id", "preferred_pool_id"), POOL_ID),
    **dict.fromkeys(("trace_id", "client_trace_id"), TOKEN),
    **dict.fromkeys(
        (
            "src_lang",
            "tgt_lang",
            "lang_a",
            "lang_b",
            "src",
            "tgt",
            "auto_langs",
            "languages",
            "asr_languages",
            "tts_languages",
            "semantic_languages",
        ),
        LANGUAGE,
    ),
    "audio_format": AUDIO_FORMAT,
    "page_token": PAGE_TOKEN,
    "after_event_id": STREAM_ID,
    **dict.fromkeys(
        ("message", "reason", "last_error", "error_message", "status_reason", "hint"), NOTE
    ),
    **dict.fromkeys(
        ("text", "text_asr", "text_translated", "context_text", "partial_text"), LONG_TEXT
    ),
}
BYTES_RULES: Mapping[str, BytesRule] = {
    "audio": BytesRule(AUDIO_MAX_BYTES),
    "tts_audio": BytesRule(TTS_AUDIO_MAX_BYTES),
    **dict.fromkeys(("features_json", "extra_json", "details_json"), BytesRule(JSON_MAX_BYTES)),
}
INT_RULES: Mapping[str, RangeRule] = {
    "sample_rate": RangeRule(SAMPLE_RATE_MIN, SAMPLE_RATE_MAX),
    "page_size": RangeRule(1, PAGE_SIZE_MAX),
    "limit": RangeRule(1, CANDIDATES_MAX),
}
DEFAULT_BYTES = BytesRule(BYTES_MAX)


def _leaf(field: str) -> str:
    """The field's own name in a path ("a.b[3].c" -> "c", "langs[2]" -> "langs")."""
    return field.rsplit(".", 1)[-1].split("[", 1)[0]


def check_string(field: str, value: str) -> None:
    """`value` for the field named (last part of) `field`; raises LimitError."""
    STRING_RULES.get(_leaf(field), TEXT).check(field, value)


def check_bytes(field: str, value: bytes) -> None:
    BYTES_RULES.get(_leaf(field), DEFAULT_BYTES).check(field, value)


def check_int(field: str, value: int) -> None:
    rule = INT_RULES.get(_leaf(field))
    if rule is not None:
        rule.check(field, value)


def check_list(field: str, count: int) -> None:
    bound = LIST_BOUNDS.get(_leaf(field), LIST_MAX)
    if count > bound:
        raise LimitError(field, f"has too many entries ({count}; at most {bound})")


def require(field: str, value: object) -> None:
    """A field the call cannot do without."""
    if not value:
        raise LimitError(field, "is required")


def page_number(field: str, token: str) -> int:
    """A numeric page token (an offset, a time, a cursor) as an int; "" is 0."""
    if not token:
        return 0
    if not token.isascii() or not token.isdigit() or len(token) > 16:
        raise LimitError(field, f"is not a page token from a previous page: {preview(token)}")
    number = int(token)
    if number > PAGE_OFFSET_MAX:
        raise LimitError(field, f"is out of range: {preview(token)}")
    return number


# --- protobuf messages ------------------------------------------------------------------------

_STRING = FieldDescriptor.TYPE_STRING
_BYTES = FieldDescriptor.TYPE_BYTES
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_ENUM = FieldDescriptor.TYPE_ENUM
_INTS = frozenset(
    {
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
    }
)


def check_message(message: Message, path: str = "") -> None:
    """Every field set in `message` (and the messages in it) against the table; raises
    LimitError naming the first field out of bounds by its path."""
    try:
        _check_fields(message)
    except _Refused as refused:
        where = ".".join(filter(None, [path, *reversed(refused.steps)]))
        raise LimitError(where, refused.problem) from None


class _Refused(Exception):
    """A refusal on its way out of the walk: the path is only built for it (the walk
    itself never formats a path, so a message within bounds costs little)."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(problem)
        self.steps = [step]
        self.problem = problem


@dataclass(frozen=True)
class _Plan:
    """How one field is checked, worked out once per field of each message type."""

    kind: int
    repeated: bool
    bound: int  # entries, for a repeated field
    rule: StringRule | BytesRule | RangeRule | None
    enum_values: frozenset[int] = frozenset()


_PLANS: dict[FieldDescriptor, _Plan] = {}


def _plan(field: FieldDescriptor) -> _Plan:
    plan = _PLANS.get(field)
    if plan is None:
        kind, name = field.type, field.name
        rule: StringRule | BytesRule | RangeRule | None = None
        if kind == _STRING:
            rule = STRING_RULES.get(name, TEXT)
        elif kind == _BYTES:
            rule = BYTES_RULES.get(name, DEFAULT_BYTES)
        elif kind in _INTS:
            rule = INT_RULES.get(name)
        enum = field.enum_type if kind == _ENUM else None
        plan = _PLANS[field] = _Plan(
            kind=kind,
            repeated=bool(field.is_repeated),
            bound=LIST_BOUNDS.get(name, LIST_MAX),
            rule=rule,
            enum_values=frozenset(enum.values_by_number) if enum is not None else frozenset(),
        )
    return plan


def _check_fields(message: Message) -> None:
    for field, value in message.ListFields():
        plan = _plan(field)
        if not plan.repeated:
            _check_value(plan, field.name, value)
            continue
        if len(value) > plan.bound:
            raise _Refused(field.name, f"has too many entries ({len(value)}; at most {plan.bound})")
        for index, item in enumerate(value):
            _check_value(plan, f"{field.name}[{index}]", item)


def _check_value(plan: _Plan, step: str, value: Any) -> None:
    try:
        if plan.kind == _MESSAGE:
            _check_fields(value)
        elif plan.kind == _ENUM:
            if value not in plan.enum_values:
                raise LimitError(step, f"has no value {value}")
        elif plan.rule is not None:
            plan.rule.check(step, value)
    except _Refused as refused:
        refused.steps.append(step)
        raise
    except LimitError as error:
        raise _Refused(step, error.problem) from None
