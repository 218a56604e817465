"""Typed reads of JSON message fields, with errors that say exactly what is wrong.

Unknown fields are ignored (clients send extras); a missing or mistyped required field
raises WireError, which the connection answers with an INVALID_MESSAGE error. Every
value is also held to the table of limits by its field's name (lingua_common/limits.py:
ids, language codes, sample rates, audio formats, text lengths, list lengths), the same
table the gRPC APIs use; a refusal names the field and shows at most a short prefix.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from lingua_common import limits

JsonObject = dict[str, Any]

UINT64_MAX = 2**64 - 1
# Fields stored in uint32 / int64 proto fields: larger values are refused here, with the
# field's name, instead of failing later inside protobuf.
UINT32_MAX = 2**32 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class WireError(ValueError):
    """A message that does not follow PROTOCOL.md."""


def _where(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _get(msg: JsonObject, name: str, path: str, required: bool) -> Any:
    value = msg.get(name)
    if value is None and required:
        raise WireError(f"missing required field '{_where(path, name)}'")
    return value


def _raw_string(msg: JsonObject, name: str, path: str, required: bool) -> str | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise WireError(f"field '{_where(path, name)}' must be a string")
    return value


def string(msg: JsonObject, name: str, path: str = "", *, required: bool = True) -> str | None:
    value = _raw_string(msg, name, path, required)
    if value is not None:
        _within(limits.check_string, _where(path, name), value)
    return value


def _within(check: Any, where: str, value: Any) -> None:
    try:
        check(where, value)
    except limits.LimitError as error:
        raise WireError(str(error)) from None


def req_string(msg: JsonObject, name: str, path: str = "") -> str:
    value = string(msg, name, path)
    assert value is not None
    return value


def boolean(msg: JsonObject, name: str, path: str = "", *, required: bool = True) -> bool | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise WireError(f"field '{_where(path, name)}' must be a boolean")
    return value


def req_bool(msg: JsonObject, name: str, path: str = "") -> bool:
    value = boolean(msg, name, path)
    assert value is not None
    return value


def uint(
    msg: JsonObject,
    name: str,
    path: str = "",
    *,
    required: bool = True,
    maximum: int = UINT64_MAX,
) -> int | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise WireError(f"field '{_where(path, name)}' must be an unsigned integer <= {maximum}")
    _within(limits.check_int, _where(path, name), value)
    return value


def req_uint(msg: JsonObject, name: str, path: str = "", *, maximum: int = UINT64_MAX) -> int:
    value = uint(msg, name, path, maximum=maximum)
    assert value is not None
    return value


def integer(msg: JsonObject, name: str, path: str = "", *, required: bool = True) -> int | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
        raise WireError(f"field '{_where(path, name)}' must be an integer")
    return value


def number(msg: JsonObject, name: str, path: str = "", *, required: bool = True) -> float | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"field '{_where(path, name)}' must be a number")
    return float(value)


def obj(msg: JsonObject, name: str, path: str = "", *, required: bool = True) -> JsonObject | None:
    value = _get(msg, name, path, required)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise WireError(f"field '{_where(path, name)}' must be an object")
    return value


def req_obj(msg: JsonObject, name: str, path: str = "") -> JsonObject:
    value = obj(msg, name, path)
    assert value is not None
    return value


def string_list(msg: JsonObject, name: str, path: str = "", *, required: bool = False) -> list[str]:
    value = _get(msg, name, path, required)
    if value is None:
        return []
    where = _where(path, name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WireError(f"field '{where}' must be an array of strings")
    _within(limits.check_list, where, len(value))
    for index, item in enumerate(value):
        _within(limits.check_string, f"{where}[{index}]", item)
    return value


def object_list(
    msg: JsonObject, name: str, path: str = "", *, required: bool = False
) -> list[JsonObject]:
    value = _get(msg, name, path, required)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise WireError(f"field '{_where(path, name)}' must be an array of objects")
    _within(limits.check_list, _where(path, name), len(value))
    return value


def json_bytes(value: Any, where: str) -> bytes:
    """A JSON value carried on as bytes (features, extra, details), bounded in size."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:
        raise WireError(f"field '{where}' is nested too deeply") from None
    if len(encoded) > limits.JSON_MAX_BYTES:
        raise WireError(
            f"field '{where}' is too large ({len(encoded)} bytes as JSON; "
            f"at most {limits.JSON_MAX_BYTES})"
        )
    return encoded


def base64_bytes(
    msg: JsonObject, name: str, path: str = "", *, required: bool = True, max_bytes: int
) -> bytes:
    value = _raw_string(msg, name, path, required)  # bounded in bytes, below
    if not value:
        return b""
    if len(value) > (max_bytes * 4) // 3 + 4:
        raise WireError(f"field '{_where(path, name)}' exceeds {max_bytes} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WireError(f"field '{_where(path, name)}' is not valid base64") from None


def one_of(value: str | None, allowed: frozenset[str], where: str) -> str | None:
    if value is not None and value not in allowed:
        raise WireError(
            f"field '{where}' must be one of {', '.join(sorted(allowed))}, "
            f"not {limits.preview(value)}"
        )
    return value
