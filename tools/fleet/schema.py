"""Check a message against PROTOCOL.md v1 (the tables in tools.fleet.protocol_spec).

The fleet checks every scheduler message it receives (a gateway must speak the
protocol unchanged); the tests check the fake peers' own output, strictly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lingua_common import limits
from tools.fleet.protocol_spec import MESSAGES, STRUCTS, Direction, Spec

# Structs that may carry fields the protocol does not list (agents send e.g. `devices`).
_OPEN_STRUCTS = frozenset({"CapabilityByType"})
# Audio as base64: bounded in bytes by the gateway (LINGUA_MAX_AUDIO_BYTES), not as text.
BASE64_FIELDS = frozenset({"audio", "tts_audio", "payload"})


def check(direction: Direction, message: dict[str, Any], strict: bool = False) -> list[str]:
    """What is wrong with `message`; empty when it fits. `strict` also flags unknown fields
    (peers must ignore them, so only our own output is held to that)."""
    kind = message.get("type")
    spec = MESSAGES[direction].get(kind) if isinstance(kind, str) else None
    if spec is None:
        return [f"unknown message type {kind!r} for {direction}"]
    body = {k: v for k, v in message.items() if k != "type"}
    return _check_object(str(kind), body, spec, strict, open_struct=False)


def _check_object(
    where: str, value: dict[str, Any], spec: Spec, strict: bool, open_struct: bool
) -> list[str]:
    problems: list[str] = []
    for name, type_spec in spec.items():
        optional = type_spec.endswith("?")
        base = type_spec.removesuffix("?")
        path = f"{where}.{name}"
        if name not in value:
            if not optional:
                problems.append(f"{path}: required field missing")
            continue
        item = value[name]
        if item is None and not base.endswith("|null"):
            problems.append(f"{path}: null (an absent optional value must be omitted)")
            continue
        problems += _check_value(path, item, base.removesuffix("|null"), strict)
    if strict and not open_struct:
        problems += [f"{where}.{name}: unknown field" for name in value if name not in spec]
    return problems


def _check_value(path: str, value: Any, type_spec: str, strict: bool) -> list[str]:
    if value is None:
        return []  # only reached for "|null" fields
    if type_spec.startswith("["):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        inner = type_spec[1:-1]
        problems: list[str] = _within_limits(limits.check_list, path, len(value))
        for i, item in enumerate(value):
            problems += _check_value(f"{path}[{i}]", item, inner, strict)
        return problems
    if type_spec in STRUCTS:
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({type_spec}), got {type(value).__name__}"]
        open_struct = type_spec in _OPEN_STRUCTS
        return _check_object(path, value, STRUCTS[type_spec], strict, open_struct)
    if type_spec.startswith("enum:"):
        allowed = type_spec[5:].split("|")
        if value not in allowed:
            return [f"{path}: {value!r} is not one of {allowed}"]
        return []
    if not _PRIMITIVES[type_spec](value):
        return [f"{path}: expected {type_spec}, got {value!r}"]
    if isinstance(value, str) and path.rsplit(".", 1)[-1] not in BASE64_FIELDS:
        return _within_limits(limits.check_string, path, value)
    if _is_int(value):
        return _within_limits(limits.check_int, path, value)
    return []


def _within_limits(check: Callable[[str, Any], None], path: str, value: Any) -> list[str]:
    """The gateway holds every field to the table of limits (by its name), so does this."""
    try:
        check(path, value)
    except limits.LimitError as error:
        return [f"{path}: {error.problem}"]
    return []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_PRIMITIVES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "true": lambda v: v is True,  # flags that are omitted when false
    "int": _is_int,
    "uint": lambda v: _is_int(v) and v >= 0,
    "attempt": lambda v: _is_int(v) and v >= 1,
    "num": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "obj": lambda v: isinstance(v, dict),
    "any": lambda v: v is not None,
}


class ViolationLog:
    """Counts the protocol violations seen in received messages; keeps a few examples."""

    def __init__(self, direction: Direction, keep: int = 10) -> None:
        self.direction = direction
        self.count = 0
        self.samples: list[str] = []
        self._keep = keep

    def observe(self, message: dict[str, Any]) -> list[str]:
        if message.get("type") not in MESSAGES[self.direction]:
            return []  # a message kind this peer does not know is ignored, not judged
        problems = check(self.direction, message)
        if problems:
            self.count += 1
            if len(self.samples) < self._keep:
                self.samples.append("; ".join(problems))
        return problems
