"""One inbound frame: rate check, JSON decoding, routing, and the error that goes back.

Anything a peer sends gets either its effect or an `error` that says what was wrong;
the connection stays (except for rate abuse) and nothing already accepted is lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import orjson
from websockets.asyncio.connection import Connection

from services.gateway.limits import RateGuard, Verdict
from services.gateway.outbox import CLOSE_POLICY_VIOLATION, Outbox
from services.gateway.wire import out
from services.gateway.wire.fields import WireError

logger = logging.getLogger(__name__)


# Parsing a frame this large holds the event loop for about a millisecond or more.
LARGE_FRAME_BYTES = 64 * 1024


class ParseLane:
    """Large frames are parsed one at a time, each after a turn of the event loop, so a
    burst of them from many connections is spread out between everyone else's frames
    instead of stalling the loop back to back. Small frames never wait here; the lane is
    held for the parse only, never while a message is handled."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def parse(self, frame: str) -> Any:
        if len(frame) < LARGE_FRAME_BYTES:
            return orjson.loads(frame)
        async with self._lock:
            await asyncio.sleep(0)
            return orjson.loads(frame)


class Link(Protocol):
    ws: Connection
    outbox: Outbox

    async def handle(self, msg: dict[str, Any]) -> None: ...


def describe(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


async def dispatch_frame(link: Link, guard: RateGuard, frame: str | bytes, lane: ParseLane) -> None:
    verdict = guard.admit()
    if verdict is Verdict.ABUSE:
        logger.warning("rate limit abuse; closing", extra={"strikes": guard.strikes})
        await link.ws.close(CLOSE_POLICY_VIOLATION, "rate limit exceeded repeatedly")
        return
    if verdict is Verdict.REFUSE:
        link.outbox.send(
            out.error("RATE_LIMITED", "too many messages per second; this one was dropped")
        )
        return
    if isinstance(frame, bytes):
        link.outbox.send(out.error("INVALID_MESSAGE", "binary frames are not part of protocol v1"))
        return
    try:
        msg = await lane.parse(frame)
    except orjson.JSONDecodeError as exc:
        link.outbox.send(out.error("INVALID_MESSAGE", f"malformed JSON: {exc}"))
        return
    if not isinstance(msg, dict):
        link.outbox.send(
            out.error("INVALID_MESSAGE", f"a message must be a JSON object, not {describe(msg)}")
        )
        return
    kind = msg.get("type")
    if not isinstance(kind, str):
        problem = (
            "missing required field 'type'" if kind is None else "field 'type' must be a string"
        )
        link.outbox.send(out.error("INVALID_MESSAGE", problem))
        return
    try:
        await link.handle(msg)
    except WireError as exc:
        link.outbox.send(out.error("INVALID_MESSAGE", f"{kind[:64]}: {exc}"))
    except Exception:
        # One bad message must never take the connection (or the process) down.
        logger.exception("message handling failed", extra={"type": kind[:64]})
        link.outbox.send(out.error("INTERNAL_ERROR", f"{kind[:64]}: internal error"))
