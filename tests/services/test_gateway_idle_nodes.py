"""Node sockets are watched by what the nodes send, not by WebSocket pings: a silent
node socket is closed and its node goes offline; a beating one stays; session sockets
keep their keepalive pings (real gateway, real WebSockets, real Redis)."""

from __future__ import annotations

import asyncio
import contextlib

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from lingua_common.settings import RedisSettings
from services.gateway.ws_server import GatewayConnection
from tests.peers import Peer, heartbeat_message, register_message
from tests.services.gateway_helpers import running_suite
from tests.services.lifecycle_helpers import wait_status

IDLE_MS = 600


async def closed_code(peer: Peer, wait_s: float) -> int | None:
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while True:
            await peer.recv(wait_s=wait_s)
    return peer.ws.close_code


async def test_a_silent_node_socket_is_closed_and_a_beating_one_stays(
    redis_settings: RedisSettings,
) -> None:
    async with running_suite(redis_settings, node_idle_timeout_ms=IDLE_MS) as suite:
        url = suite.ws_url() + "/ws/node"
        silent, beating, unregistered = [await Peer.open(url) for _ in range(3)]
        ids = []
        for peer in (silent, beating):
            await peer.send(register_message((("zh", "en"),)))
            ids.append((await peer.expect("node_register_ack"))["node_id"])
            await peer.send(heartbeat_message(ids[-1]))
        silent_id, beating_id = ids
        await wait_status(suite, silent_id, "ready")

        async def keep_beating() -> None:
            while True:
                await asyncio.sleep(IDLE_MS / 4000)
                await beating.send(heartbeat_message(beating_id))

        beats = asyncio.create_task(keep_beating())
        try:
            assert await closed_code(silent, wait_s=IDLE_MS * 3 / 1000) == 1000
            assert silent.ws.close_reason.startswith("no message for")
            assert await closed_code(unregistered, wait_s=1.0) == 1000
            await wait_status(suite, silent_id, "offline")  # after the offline grace
            await asyncio.sleep(IDLE_MS * 2 / 1000)
            assert beating.ws.close_code is None
            await wait_status(suite, beating_id, "ready")
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        await beating.close()


async def test_session_sockets_are_pinged_and_node_sockets_are_not() -> None:
    kept: dict[str, asyncio.Task[None] | None] = {}
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        kept[ws.request.path] = ws.keepalive_task
        if len(kept) == 2:
            done.set()
        await ws.wait_closed()

    async with serve(
        handler, "127.0.0.1", 0, create_connection=GatewayConnection, ping_interval=20
    ) as server:
        port = server.sockets[0].getsockname()[1]
        async with (
            connect(f"ws://127.0.0.1:{port}/ws/node?token=x", ping_interval=None),
            connect(f"ws://127.0.0.1:{port}/ws/session", ping_interval=None),
        ):
            await asyncio.wait_for(done.wait(), 5)
    assert kept["/ws/node?token=x"] is None
    assert kept["/ws/session"] is not None
