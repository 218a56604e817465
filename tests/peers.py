"""Raw WebSocket peers for protocol-level tests (the fleet covers realistic behaviour)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tools.fleet import node_caps

Message = dict[str, Any]


def register_message(
    pairs: Sequence[tuple[str, str]] = (("zh", "en"),),
    *,
    node_id: str | None = None,
    schema: str | None = "2.0",
    gpus: int = 1,
) -> Message:
    message: Message = {
        "type": "node_register",
        "version": "test-agent/1.0",
        "platform": "linux",
        "hardware": {
            "cpu_cores": 8,
            "memory_gb": 32,
            "gpus": [{"name": "RTX 4090", "memory_gb": 24}] * gpus,
        },
        "installed_models": node_caps.installed_models(pairs),
        "installed_services": node_caps.installed_services(),
        "capability_by_type": node_caps.capability_by_type(),
        "features_supported": {"emotion_detection": False},
        "accept_public_jobs": True,
        "language_capabilities": node_caps.language_capabilities(pairs),
    }
    if schema is not None:
        message["capability_schema_version"] = schema
    if node_id is not None:
        message["node_id"] = node_id
    return message


def heartbeat_message(node_id: str, running: int = 0, *, ready: bool = True) -> Message:
    return {
        "type": "node_heartbeat",
        "node_id": node_id,
        "timestamp": 1_700_000_000_000,
        "resource_usage": {"cpu_percent": 10.0, "mem_percent": 20.0, "running_jobs": running},
        "installed_services": node_caps.installed_services(),
        "capability_by_type": [{"type": kind, "ready": ready} for kind in node_caps.SERVICE_TYPES],
    }


def utterance_message(
    session_id: str, index: int, audio: bytes, src: str = "zh", tgt: str = "en"
) -> Message:
    return {
        "type": "utterance",
        "session_id": session_id,
        "utterance_index": index,
        "manual_cut": True,
        "src_lang": src,
        "tgt_lang": tgt,
        "audio": base64.b64encode(audio).decode(),
        "audio_format": "opus",
        "sample_rate": 16000,
    }


class Peer:
    """One WebSocket with typed receive helpers and a bounded wait on every read."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[Message] = []

    @classmethod
    async def open(cls, url: str) -> Peer:
        return cls(await connect(url, max_size=None, compression=None))

    async def send(self, message: Message | str | bytes) -> None:
        if isinstance(message, dict):
            await self.ws.send(orjson.dumps(message).decode())
        else:
            await self.ws.send(message)

    async def recv(self, wait_s: float = 5.0) -> Message:
        raw = await asyncio.wait_for(self.ws.recv(), wait_s)
        message: Message = orjson.loads(raw)
        self.seen.append(message)
        return message

    async def expect(
        self, kind: str, wait_s: float = 5.0, skip: Sequence[str] = ("ui_event",)
    ) -> Message:
        """The next message, which must be of `kind` (skipping the given kinds)."""
        while True:
            message = await self.recv(wait_s)
            if message["type"] in skip and kind not in skip:
                continue
            assert message["type"] == kind, message
            return message

    async def close(self) -> None:
        await self.ws.close()


async def registered_node(
    url: str, pairs: Sequence[tuple[str, str]] = (("zh", "en"),)
) -> tuple[Peer, str]:
    """A node that registered and sent its first heartbeat (so it is ready)."""
    peer = await Peer.open(url + "/ws/node")
    await peer.send(register_message(pairs))
    ack = await peer.expect("node_register_ack")
    await peer.send(heartbeat_message(ack["node_id"]))
    return peer, ack["node_id"]


async def open_session(url: str, src: str = "zh", tgt: str = "en") -> tuple[Peer, str]:
    peer = await Peer.open(url + "/ws/session")
    await peer.send(
        {
            "type": "session_init",
            "client_version": "t/1",
            "platform": "web",
            "src_lang": src,
            "tgt_lang": tgt,
        }
    )
    ack = await peer.expect("session_init_ack")
    return peer, ack["session_id"]
