"""WebSocket plumbing shared by fake nodes and clients: URLs, JSON frames, clock."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger(__name__)

NODE_PATH = "/ws/node"
SESSION_PATH = "/ws/session"
MAX_MESSAGE_BYTES = 4 * 2**20

JsonObject = dict[str, Any]


def endpoint_url(base: str, path: str, query: dict[str, str | None] | None = None) -> str:
    """`base` plus `path` (unless `base` already names it) plus non-empty query values."""
    parts = urlsplit(base)
    route = parts.path.rstrip("/")
    if not route.endswith(path):
        route = route + path
    params = parse_qsl(parts.query, keep_blank_values=True)
    params += [(k, v) for k, v in (query or {}).items() if v]
    return urlunsplit((parts.scheme, parts.netloc, route, urlencode(params), ""))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode(message: JsonObject) -> str:
    return orjson.dumps(message).decode()


def decode(frame: str | bytes) -> JsonObject | None:
    """The JSON object in a text frame, or None for anything else (logged, never raised)."""
    if isinstance(frame, bytes):
        log.warning("ignoring a binary frame of %d bytes", len(frame))
        return None
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        log.warning("ignoring a frame that is not JSON: %.80s", frame)
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        log.warning("ignoring a frame without a message type: %.80s", frame)
        return None
    return message


def open_ws(url: str, open_timeout_s: float) -> connect:
    # proxy=None: the fleet talks to loopback only, never through an environment proxy.
    return connect(
        url,
        open_timeout=open_timeout_s,
        proxy=None,
        max_size=MAX_MESSAGE_BYTES,
        compression=None,
        close_timeout=2,
    )


async def send_json(ws: ClientConnection, message: JsonObject) -> None:
    await ws.send(encode(message))
