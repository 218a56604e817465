"""A minimal scheduler-side peer for the fake node and client (the real gateway is elsewhere).

It plays just enough of the server part of PROTOCOL.md: ack registrations and sessions,
turn each utterance (or streamed, manually cut audio) into a job_assign for a node, and
turn the job_result into a translation_result (or an error) for the client. Every
message the fake peers send is recorded so the tests can check its shape.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]
Predicate = Callable[[str, Message], bool]
TWO_WAY_FIELDS = ("mode", "lang_a", "lang_b", "auto_langs")


@dataclass
class _Session:
    ws: ServerConnection
    trace_id: str
    src_lang: str
    tgt_lang: str
    next_index: int = 0
    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    held: list[Message] = field(default_factory=list)
    # Two-way mode as session_init named it, passed on to the node unchanged.
    mode: Message = field(default_factory=dict)


class MiniScheduler:
    def __init__(self) -> None:
        self.received: list[tuple[str, Message]] = []  # (endpoint, message) from the peers
        self.paths: list[str] = []  # request paths, with their query strings
        self.ports: list[tuple[int, str]] = []  # (listener port, endpoint) per connection
        self.nodes: list[tuple[str, ServerConnection]] = []
        self.corrupt_text = False  # change text_asr on its way back to the client
        self.hold_results = 0  # buffer this many results per session, then release reversed
        self.duplicate_assign = False  # send every job_assign twice
        self.noise = False  # send the client extra message kinds and junk after the ack
        self.drop_trace_id = False  # send translation_result without its trace_id
        self.drop_group_id = False  # send translation_result without group_id / part_index
        self.reject_sessions = False  # answer session_init with an error, then close
        self._sessions: dict[str, _Session] = {}
        self._jobs: dict[str, str] = {}  # job_id -> session_id
        self._ids = itertools.count(1)
        self._node_turn = itertools.count()
        self._changed = asyncio.Condition()
        self._servers: list[Server] = []

    async def listen(self) -> str:
        """One more listener (a 'replica') sharing this state; returns its base URL."""
        server = await serve(self._handler, "127.0.0.1", 0, compression=None)
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}"

    async def close(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    def messages(self, kind: str, endpoint: str | None = None) -> list[Message]:
        return [
            m
            for ep, m in self.received
            if m.get("type") == kind and (endpoint is None or ep == endpoint)
        ]

    async def wait_for(self, predicate: Predicate, within_s: float = 10.0) -> Message:
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: self._find(predicate) is not None)
        found = self._find(predicate)
        assert found is not None
        return found

    async def wait_kind(self, kind: str, count: int = 1, within_s: float = 10.0) -> list[Message]:
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: len(self.messages(kind)) >= count)
        return self.messages(kind)

    async def send_to_node(self, message: Message, node: int = 0) -> None:
        await self.nodes[node][1].send(orjson.dumps(message).decode())

    def _find(self, predicate: Predicate) -> Message | None:
        return next((m for ep, m in self.received if predicate(ep, m)), None)

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.paths.append(ws.request.path)
        endpoint = ws.request.path.partition("?")[0]
        self.ports.append((ws.local_address[1], endpoint))
        try:
            async for frame in ws:
                message = orjson.loads(frame)
                async with self._changed:
                    self.received.append((endpoint, message))
                    self._changed.notify_all()
                if endpoint == "/ws/node":
                    await self._on_node(ws, message)
                else:
                    await self._on_client(ws, message)
        except ConnectionClosed:
            pass
        finally:
            self.nodes = [(n, w) for n, w in self.nodes if w is not ws]

    async def _on_node(self, ws: ServerConnection, message: Message) -> None:
        if message["type"] == "node_register":
            node_id = message.get("node_id") or f"node-{next(self._ids)}"
            self.nodes = [(n, w) for n, w in self.nodes if n != node_id] + [(node_id, ws)]
            await _send(ws, {"type": "node_register_ack", "node_id": node_id, "message": "ok"})
        elif message["type"] == "job_result":
            await self._forward_result(message)

    async def _on_client(self, ws: ServerConnection, message: Message) -> None:
        kind = message["type"]
        if kind == "session_init" and self.reject_sessions:
            await _send(ws, {"type": "error", "code": "UNAUTHENTICATED", "message": "no key"})
            await ws.close()
        elif kind == "session_init":
            session_id = f"s-{next(self._ids)}"
            session = _Session(ws, f"t-{session_id}", message["src_lang"], message["tgt_lang"])
            session.mode = {k: message[k] for k in TWO_WAY_FIELDS if k in message}
            self._sessions[session_id] = session
            ack = {"type": "session_init_ack", "session_id": session_id, "message": "ok"}
            await _send(ws, {**ack, "trace_id": session.trace_id})
            if self.noise:
                await self._send_noise(ws, session_id, session.trace_id)
        elif kind == "utterance":
            audio = base64.b64decode(message["audio"])
            await self._assign(message["session_id"], message["utterance_index"], audio)
        elif kind == "audio_chunk":
            session = self._sessions[message["session_id"]]
            if message.get("payload"):
                session.chunks.append((message["seq"], base64.b64decode(message["payload"])))
            if message["is_final"] and session.chunks:
                audio = b"".join(chunk for _, chunk in sorted(session.chunks))
                session.chunks.clear()
                index, session.next_index = session.next_index, session.next_index + 1
                await self._assign(message["session_id"], index, audio)
        elif kind == "session_close":
            await _send(ws, {"type": "session_close_ack", "session_id": message["session_id"]})

    async def _assign(self, session_id: str, index: int, audio: bytes) -> None:
        session = self._sessions[session_id]
        job_id = f"job-{session_id}-{index}"
        self._jobs[job_id] = session_id
        assign = {
            "type": "job_assign",
            "job_id": job_id,
            "attempt_id": 1,
            "session_id": session_id,
            "utterance_index": index,
            "src_lang": session.src_lang,
            "tgt_lang": session.tgt_lang,
            **session.mode,
            "pipeline": {"use_asr": True, "use_nmt": True, "use_tts": True},
            "audio": base64.b64encode(audio).decode(),
            "audio_format": "opus",
            "sample_rate": 16000,
            "trace_id": session.trace_id,
            "is_manual_cut": True,
        }
        _, node_ws = self.nodes[next(self._node_turn) % len(self.nodes)]
        for _ in range(2 if self.duplicate_assign else 1):
            await _send(node_ws, assign)

    async def _forward_result(self, result: Message) -> None:
        session_id = self._jobs.pop(result["job_id"], None)
        if session_id is None:
            return  # e.g. a refused duplicate
        session = self._sessions[session_id]
        index = result["utterance_index"]
        if not result["success"]:
            error = result["error"]
            details = {"utterance_index": index, "job_id": result["job_id"]}
            answer = {"type": "error", "code": error["code"], "message": error["message"]}
            await _send(session.ws, {**answer, "details": details})
            return
        answer = {
            "type": "translation_result",
            "session_id": session_id,
            "utterance_index": index,
            "job_id": result["job_id"],
            "text_asr": result.get("text_asr", ""),
            "text_translated": result.get("text_translated", ""),
            "tts_audio": result.get("tts_audio", ""),
            "tts_format": result.get("tts_format", "pcm16"),
            "trace_id": session.trace_id,
        }
        if "extra" in result:
            answer["extra"] = result["extra"]
        if answer["text_asr"] and not self.drop_group_id:
            # One group per session here (the gateway's rule is tested with the gateway).
            answer["group_id"], answer["part_index"] = f"group_{session_id}", index
        if self.corrupt_text and answer["text_asr"]:
            answer["text_asr"] = "asr:0000000000000000"
        if self.drop_trace_id:
            del answer["trace_id"]
        session.held.append(answer)
        if len(session.held) >= self.hold_results:
            for held in reversed(session.held):
                await _send(session.ws, held)
            session.held.clear()

    async def _send_noise(self, ws: ServerConnection, session_id: str, trace_id: str) -> None:
        await _send(ws, {"type": "server_heartbeat", "session_id": session_id, "timestamp": 1})
        event = {"type": "ui_event", "trace_id": trace_id, "session_id": session_id}
        await _send(
            ws,
            {**event, "job_id": "j", "utterance_index": 0, "event": "DISPATCHED", "status": "ok"},
        )
        await ws.send(b"\x00\x01binary")
        await ws.send("not json")
        await _send(ws, {"type": "error", "code": "INVALID_MESSAGE", "message": "noise"})
        await _send(ws, {"type": "some_future_kind", "x": 1})


async def _send(ws: ServerConnection, message: Message) -> None:
    with contextlib.suppress(ConnectionClosed):
        await ws.send(orjson.dumps(message).decode())


@pytest.fixture
async def sched() -> AsyncIterator[MiniScheduler]:
    scheduler = MiniScheduler()
    try:
        yield scheduler
    finally:
        await scheduler.close()
