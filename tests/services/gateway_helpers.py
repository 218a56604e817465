"""Helpers for the gateway's service-level tests: suites with gateway settings, a node
that answers, protocol checks of everything received, bounded reads."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import struct
from collections.abc import AsyncIterator, Sequence
from typing import Any

from lingua_common.clock import Clock, SystemClock
from lingua_common.settings import RedisSettings
from services.gateway.settings import AuthSettings, Limits
from tests.peers import Message, Peer, heartbeat_message, register_message
from tests.services.lifecycle_helpers import wait_status
from tests.suite import InProcessSuite
from tools.fleet import schema


@contextlib.asynccontextmanager
async def running_suite(
    redis: RedisSettings,
    *,
    gateways: int = 1,
    clock: Clock | None = None,
    **gateway_overrides: Any,
) -> AsyncIterator[InProcessSuite]:
    overrides: dict[str, Any] = {"node_offline_grace_ms": 100, "auth": AuthSettings(disabled=True)}
    overrides.update(gateway_overrides)
    suite = InProcessSuite(
        redis, gateways=gateways, clock=clock or SystemClock(), gateway_overrides=overrides
    )
    await suite.start()
    try:
        yield suite
    finally:
        await suite.stop()


def limits(**changes: Any) -> Limits:
    return dataclasses.replace(Limits(), **changes)


def opus(packets: int, tag: int = 0xAB, size: int = 3) -> bytes:
    """`packets` Opus frames ([u16 LE length][packet]), 20 ms each."""
    return (struct.pack("<H", size) + bytes([tag]) * size) * packets


def chunk(session_id: str, seq: int, payload: bytes, is_final: bool = False) -> Message:
    return {
        "type": "audio_chunk",
        "session_id": session_id,
        "seq": seq,
        "is_final": is_final,
        "payload": base64.b64encode(payload).decode(),
        "client_timestamp_ms": 1_700_000_000_000,
    }


def result_for(assign: Message, node_id: str, text: str, **extra: Any) -> Message:
    return {
        "type": "job_result",
        "job_id": assign["job_id"],
        "attempt_id": assign["attempt_id"],
        "node_id": node_id,
        "session_id": assign["session_id"],
        "utterance_index": assign["utterance_index"],
        "success": True,
        "trace_id": assign["trace_id"],
        "text_asr": text,
        "text_translated": text.upper(),
        "tts_format": "pcm16",
        **extra,
    }


def conforms(direction: schema.Direction, message: Message) -> Message:
    """The message, after checking it against PROTOCOL.md strictly (no unknown fields)."""
    problems = schema.check(direction, message, strict=True)
    assert not problems, (problems, message)
    return message


async def ready_node(
    suite: InProcessSuite,
    gateway: int = 0,
    pairs: Sequence[tuple[str, str]] = (("zh", "en"),),
    url_suffix: str = "",
) -> tuple[Peer, str]:
    """A registered node whose first heartbeat made it ready (waited for, not slept)."""
    peer = await Peer.open(suite.ws_url(gateway) + "/ws/node" + url_suffix)
    await peer.send(register_message(pairs))
    ack = conforms("node_in", await peer.expect("node_register_ack"))
    await peer.send(heartbeat_message(ack["node_id"]))
    await wait_status(suite, ack["node_id"], "ready")
    return peer, ack["node_id"]


async def next_of(peer: Peer, kind: str, wait_s: float = 5.0) -> Message:
    """The next message of `kind`, skipping others (every one checked against the protocol)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        message = await peer.recv(max(0.01, deadline - loop.time()))
        if message["type"] == kind:
            return message


async def ui_event(peer: Peer, event: str, wait_s: float = 5.0) -> Message:
    """The next ui_event named `event` (other messages may come between)."""
    while True:
        message = conforms("client_in", await next_of(peer, "ui_event", wait_s))
        if message["event"] == event:
            return message


async def quiet(peer: Peer, wait_s: float = 0.3) -> list[Message]:
    """Everything the peer receives until it has been quiet for `wait_s`."""
    seen = []
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append(await peer.recv(wait_s))
    return seen


async def http_status(port: int, path: str) -> int:
    """The status of a plain HTTP GET on the gateway's WebSocket port (probes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return int(status_line.split()[1])
