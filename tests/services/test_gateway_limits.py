"""Limits through real WebSockets: messages per second, connections per address, slow
readers, and malformed frames of every kind (the connection and its work survive)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import grpc
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lingua.common.v1 import job_pb2
from lingua.gateway.v1 import gateway_service_pb2 as gw_pb
from lingua.gateway.v1 import gateway_service_pb2_grpc as gw_grpc
from lingua_common.clock import ManualClock
from lingua_common.settings import RedisSettings
from services.gateway.client_address import parse_networks
from services.gateway.settings import RateLimit
from tests.peers import Peer, open_session, utterance_message
from tests.services.gateway_helpers import (
    conforms,
    limits,
    quiet,
    ready_node,
    result_for,
    running_suite,
)
from tests.suite import InProcessSuite, grpc_address


def beat(session_id: str) -> dict[str, object]:
    return {"type": "client_heartbeat", "session_id": session_id, "timestamp": 1}


async def closed_with(peer: Peer, wait_s: float = 5.0) -> int | None:
    """Read until the socket closes; the close code the peer received."""
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(10_000):
            await peer.recv(wait_s)
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_messages_over_the_rate_are_refused_and_repeated_abuse_closes_1008(
    redis_settings: RedisSettings,
) -> None:
    clock = ManualClock()
    lim = limits(session_rate=RateLimit(per_s=1, burst=5), rate_strikes=4)
    async with running_suite(redis_settings, clock=clock, limits=lim) as suite:
        client, session_id = await open_session(suite.ws_url())  # 1 of the burst of 5
        for _ in range(4):
            await client.send(beat(session_id))
            await client.expect("server_heartbeat")
        await client.send(beat(session_id))
        refused = conforms("client_in", await client.expect("error"))
        assert refused["code"] == "RATE_LIMITED"
        clock.advance(1000)  # one more token; the strike count starts over
        await client.send(beat(session_id))
        await client.expect("server_heartbeat")
        for _ in range(3):
            await client.send(beat(session_id))
            assert (await client.expect("error"))["code"] == "RATE_LIMITED"
        await client.send(beat(session_id))  # the fourth refusal in a row
        assert await closed_with(client) == 1008
        # Other connections are not affected.
        other, other_id = await open_session(suite.ws_url())
        await other.send(beat(other_id))
        await other.expect("server_heartbeat")
        await other.close()


async def test_connections_per_address_are_limited_at_the_handshake(
    redis_settings: RedisSettings,
) -> None:
    async with running_suite(redis_settings, limits=limits(max_connections_per_ip=2)) as suite:
        first, _ = await open_session(suite.ws_url())
        second = await Peer.open(suite.ws_url() + "/ws/node")
        with pytest.raises(InvalidStatus) as refused:
            await Peer.open(suite.ws_url() + "/ws/session")
        assert refused.value.response.status_code == 429
        await second.close()
        # Once the server has seen the close, the address may connect again (bounded retry).
        for _ in range(100):
            try:
                third = await Peer.open(suite.ws_url() + "/ws/session")
                break
            except InvalidStatus:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("a freed connection slot was never reused")
        await third.close()
        await first.close()


async def forwarded_for(url: str, client: str) -> Peer:
    return Peer(await connect(url, additional_headers={"X-Forwarded-For": client}))


async def test_behind_a_trusted_proxy_each_client_has_its_own_connection_limit(
    redis_settings: RedisSettings,
) -> None:
    proxy = parse_networks("127.0.0.1")  # the tests' sockets come from here: the "ingress"
    one = limits(max_connections_per_ip=1)
    async with running_suite(redis_settings, limits=one, trusted_proxies=proxy) as suite:
        url = suite.ws_url() + "/ws/session"
        first = await forwarded_for(url, "198.51.100.1")
        other = await forwarded_for(url, "198.51.100.2")  # another client: admitted
        with pytest.raises(InvalidStatus) as refused:
            await forwarded_for(url, "198.51.100.1")  # the first client, again
        assert refused.value.response.status_code == 429
        await first.close()
        await other.close()


async def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(
    redis_settings: RedisSettings,
) -> None:
    async with running_suite(redis_settings, limits=limits(max_connections_per_ip=1)) as suite:
        url = suite.ws_url() + "/ws/session"
        first = await forwarded_for(url, "198.51.100.1")
        with pytest.raises(InvalidStatus) as refused:  # same peer, whatever it claims
            await forwarded_for(url, "198.51.100.2")
        assert refused.value.response.status_code == 429
        await first.close()


async def test_a_slow_reader_is_dropped_with_1008_and_its_session_is_gone(
    redis_settings: RedisSettings,
) -> None:
    # The node's messages unpaced: what is measured is the slow client's side.
    lim = limits(send_queue=8, send_queue_bytes=256 * 1024, node_rate=RateLimit(0, 0))
    async with running_suite(redis_settings, limits=lim) as suite:
        node, node_id = await ready_node(suite)
        # A client that reads nothing, with a tiny receive buffer.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", suite.gateway_apps[0].ports["ws"]))
        ws = await connect(suite.ws_url() + "/ws/session", sock=sock, max_queue=1, max_size=None)
        slow = Peer(ws)
        await slow.send(
            {
                "type": "session_init",
                "client_version": "t",
                "platform": "web",
                "src_lang": "zh",
                "tgt_lang": "en",
            }
        )
        session_id = (await slow.expect("session_init_ack"))["session_id"]
        await slow.send(utterance_message(session_id, 0, b"x"))
        assign = await node.expect("job_assign")
        text = "y" * 60_000  # a partial's text is at most 64 KiB (the table of limits)
        partial = {
            "type": "asr_partial",
            "job_id": assign["job_id"],
            "node_id": node_id,
            "session_id": session_id,
            "utterance_index": 0,
            "text": text,
            "is_final": False,
            "trace_id": assign["trace_id"],
        }
        async with grpc.aio.insecure_channel(grpc_address(suite.gateway_apps[0])) as channel:
            gateway = gw_grpc.GatewayServiceStub(channel)
            probe = gw_pb.DeliverToSessionRequest(
                delivery=gw_pb.SessionDelivery(
                    job=job_pb2.JobRef(session_id=session_id, job_id=assign["job_id"]),
                    ui_event=gw_pb.UiEvent(event="DISPATCHED"),
                )
            )
            for _ in range(1_000):  # ~60 MB offered; far more than any buffer on the way
                await node.send(partial)
                if not (await gateway.DeliverToSession(probe)).delivered:
                    break
            else:
                raise AssertionError("the slow reader was never dropped")
        assert await closed_with(slow) in (1008, None)
        await node.send(result_for(assign, node_id, "late"))
        await node.close()


BAD_FRAMES = [
    ('{"type": 7}', "field 'type' must be a string"),
    ("null", "not null"),
    ('"utterance"', "not str"),
    ("3.5", "not float"),
    ("[" * 5000 + "]" * 5000, "malformed JSON"),
    ('{"type": "client_heartbeat", "session_id": "x", "timestamp": NaN}', "malformed JSON"),
    ('{"type": "audio_chunk", "session_id": "S", "seq": 1e3, "is_final": false}', "'seq'"),
    (
        '{"type": "audio_chunk", "session_id": "S", "seq": 99999999999999999999999, '
        '"is_final": false}',
        "'seq'",
    ),
    ('{"type": "audio_chunk", "session_id": "S", "seq": -1, "is_final": "no"}', "'seq'"),
    ('{"type": "session_init", "client_version": "x"}', "'platform'"),
    ('{"type": "client_heartbeat", "session_id": "S"}', "'timestamp'"),
    ('{"type": "tts_started", "session_id": "S", "trace_id": "t", "group_id": "g"}', "ts_start"),
]


async def test_malformed_frames_get_invalid_message_and_accepted_work_is_not_lost(
    suite: InProcessSuite,
) -> None:
    node, node_id = await ready_node(suite)
    client, session_id = await open_session(suite.ws_url())
    await client.send(utterance_message(session_id, 0, b"accepted before the garbage"))
    assign = await node.expect("job_assign")
    for frame, hint in BAD_FRAMES:
        await client.send(frame.replace('"S"', f'"{session_id}"'))
        error = conforms("client_in", await client.expect("error"))
        assert error["code"] == "INVALID_MESSAGE", (frame[:80], error)
        assert hint in error["message"], (frame[:80], error)
    await node.send(result_for(assign, node_id, "kept"))
    result = await client.expect("translation_result")
    assert (result["utterance_index"], result["text_asr"]) == (0, "kept")
    await node.send("{broken")
    assert (await node.expect("error"))["code"] == "INVALID_MESSAGE"
    await node.send(b"\x00binary")
    assert (await node.expect("error"))["code"] == "INVALID_MESSAGE"
    await node.close()
    await client.close()


async def test_invalid_utf8_in_a_text_frame_fails_only_that_connection(
    suite: InProcessSuite,
) -> None:
    victim, _ = await open_session(suite.ws_url())
    bystander, bystander_id = await open_session(suite.ws_url())
    # RFC 6455: a text frame that is not UTF-8 fails the connection (1007).
    await victim.ws.send(b'{"type": "\xff\xfe"}', text=True)
    assert await closed_with(victim) == 1007
    await bystander.send(beat(bystander_id))
    await bystander.expect("server_heartbeat")
    assert [m for m in await quiet(bystander, 0.1) if m["type"] == "error"] == []
    await bystander.close()


class CountingPeer:
    """A session socket whose replies are counted as they arrive (read in the
    background, so a reply is never left unread)."""

    def __init__(self, peer: Peer, session_id: str) -> None:
        self.peer = peer
        self.session_id = session_id
        self.replies = 0
        self.errors: list[dict[str, object]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                message = await self.peer.recv(wait_s=3600)
                async with self._arrived:
                    if message["type"] == "server_heartbeat":
                        self.replies += 1
                    elif message["type"] == "error":
                        self.errors.append(message)
                    self._arrived.notify_all()

    async def wait_replies(self, count: int, wait_s: float = 10.0) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.replies >= count), wait_s)

    async def abort(self) -> None:
        """Gone at once: a socket the gateway is not reading cannot close politely."""
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        self.peer.ws.transport.abort()


def padded_beat(session_id: str, size: int) -> str:
    """A valid client_heartbeat of `size` bytes (an extra field, which is ignored)."""
    bare = orjson.dumps(beat(session_id) | {"pad": ""})
    return orjson.dumps(beat(session_id) | {"pad": "x" * (size - len(bare))}).decode()


async def test_heavy_peers_within_their_limits_are_paced_and_cannot_starve_a_good_one(
    redis_settings: RedisSettings,
) -> None:
    # Time stands still: a connection in debt stays paused until the clock moves, so
    # what pacing lets through is exact, whatever the machine's speed.
    clock = ManualClock()
    frame, rate, burst = 100_000, 64 * 1024, 256 * 1024  # 3 frames fit the burst
    lim = limits(
        session_rate=RateLimit(per_s=1000, burst=1000),  # messages are not the limit
        session_bytes=RateLimit(per_s=rate, burst=burst),
    )
    async with running_suite(redis_settings, clock=clock, limits=lim) as suite:
        heavy = [CountingPeer(*await open_session(suite.ws_url())) for _ in range(4)]
        senders = [
            asyncio.create_task(_send_forever(p, padded_beat(p.session_id, frame))) for p in heavy
        ]
        for peer in heavy:  # each gets its burst's worth: 3 frames read and answered
            await peer.wait_replies(3)
        good = CountingPeer(*await open_session(suite.ws_url()))
        for i in range(1, 51):
            await good.peer.send(beat(good.session_id))
            await good.wait_replies(i)
        # The good peer was answered 50 times while the heavy ones stayed paused.
        assert [p.replies for p in heavy] == [3, 3, 3, 3]
        # Time moves: each heavy peer pays back its debt (~44 KB) and one more frame fits.
        clock.advance(1000)
        for peer in heavy:
            await peer.wait_replies(4)
        assert all(not p.errors for p in [*heavy, good])  # paced, never refused
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        for peer in [*heavy, good]:
            await peer.abort()


async def _send_forever(peer: CountingPeer, frame: str) -> None:
    while True:  # blocks once the gateway stops reading (TCP backpressure)
        await peer.peer.ws.send(frame)
