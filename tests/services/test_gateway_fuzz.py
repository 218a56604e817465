"""Fuzzing both endpoints with hypothesis while a real session keeps working.

Random JSON values, every inbound message type with one field (at any depth) deleted or
replaced by a random value, huge numbers, huge strings and lists (past every bound of the
table of limits), deep nesting, junk text, binary frames and invalid UTF-8 go to a
registered fuzz node and an initialised fuzz session. Meanwhile a real node answers
every job and a real client keeps sending utterances: each must get its own correct
translation, in order. Every message the fuzzed peers receive must follow the protocol,
none may be an INTERNAL_ERROR (a handler that blew up), every error's message stays
short, and no log line grows with what was sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from lingua_common.logs import JsonFormatter
from lingua_common.settings import RedisSettings
from services.gateway.settings import RateLimit
from tests.peers import Message, Peer, heartbeat_message, open_session, register_message
from tests.services.fuzz_frames import INVALID_UTF8, Frame, frames
from tests.services.gateway_helpers import conforms, limits, ready_node, result_for, running_suite
from tests.suite import InProcessSuite

GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "golden"
NODE_IN: dict[str, Message] = json.loads(
    # The fuzzed node speaks a language nobody asks for: it never takes the real jobs.
    (GOLDEN / "node_in.json").read_text().replace('"zh"', '"fz"').replace('"en"', '"zz"')
)
CLIENT_IN: dict[str, Message] = json.loads((GOLDEN / "client_in.json").read_text())
# Close codes a fuzzed connection may legitimately end with: invalid UTF-8 (1007), the
# node id taken over (4001) or gone (4002) after a fuzzed re-registration or drain, a
# fuzzed registration refused (1008, PROTOCOL.md: the error frame, then the close).
ALLOWED_CLOSES = {1007, 1008, 4001, 4002}
# An error names the field and shows a short prefix of the bad value; a log line does
# not grow with what a peer sent either.
MAX_ERROR_MESSAGE = 512
MAX_LOG_LINE = 4096


class LongestLogLine(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("fuzz"))
        self.longest = ""

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if len(line) > len(self.longest):
            self.longest = line


def answer(assign: Message, node_id: str) -> Message:
    """The correct result for a job: its text is derived from its audio."""
    text = hashlib.sha256(base64.b64decode(assign["audio"])).hexdigest()[:12]
    return result_for(assign, node_id, text)


@dataclass
class FuzzWorld:
    suite: InProcessSuite
    node: Peer
    node_id: str
    session: Peer
    session_id: str
    received: list[Message] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    reopened: int = 0

    def personalise(self, message: Message) -> Message:
        """Aim a golden message at the fuzzed connection (unless the mutation removed it)."""
        if isinstance(message.get("session_id"), str):
            message["session_id"] = self.session_id
        if isinstance(message.get("node_id"), str) and message.get("type") != "node_register":
            message["node_id"] = self.node_id
        return message

    def aimed(self, frame: Frame) -> Frame:
        if not isinstance(frame.data, str) or not frame.data.startswith('{"type"'):
            return frame
        try:
            message = json.loads(frame.data)
        except ValueError:
            return frame
        return Frame(json.dumps(self.personalise(message))) if isinstance(message, dict) else frame

    def check(self, direction: str, message: Message) -> None:
        conforms("node_in" if direction == "node" else "client_in", message)
        assert not (message["type"] == "error" and message["code"] == "INTERNAL_ERROR"), message
        if message["type"] == "error":
            assert len(message["message"]) <= MAX_ERROR_MESSAGE, message["message"][:300]
        self.received.append(message)

    async def reopen_node(self) -> None:
        self.reopened += 1
        self.node, self.node_id = await fuzz_node(self.suite)

    async def reopen_session(self) -> None:
        self.reopened += 1
        self.session, self.session_id = await open_session(self.suite.ws_url())


async def fuzz_node(suite: InProcessSuite) -> tuple[Peer, str]:
    peer = await Peer.open(suite.ws_url() + "/ws/node")
    await peer.send(register_message([("fz", "zz")]))
    node_id = (await peer.expect("node_register_ack"))["node_id"]
    await peer.send(heartbeat_message(node_id))
    return peer, node_id


async def real_node(peer: Peer, node_id: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            message = await peer.recv(3600)
            if message["type"] == "job_assign":
                await peer.send(answer(message, node_id))


async def real_client(peer: Peer, session_id: str, stop: asyncio.Event, done: list[int]) -> None:
    index = 0
    while not stop.is_set():
        audio = f"real utterance {index}".encode()
        await peer.send(
            {
                "type": "utterance",
                "session_id": session_id,
                "utterance_index": index,
                "manual_cut": True,
                "src_lang": "zh",
                "tgt_lang": "en",
                "audio": base64.b64encode(audio).decode(),
                "audio_format": "opus",
                "sample_rate": 16000,
            }
        )
        result = await peer.expect("translation_result", wait_s=10)
        expected = hashlib.sha256(audio).hexdigest()[:12]
        assert (result["utterance_index"], result["text_asr"]) == (index, expected), result
        done.append(index)
        index += 1


@pytest.fixture
async def world(single_redis_settings: RedisSettings) -> AsyncIterator[FuzzWorld]:
    unlimited = limits(
        node_rate=RateLimit(per_s=0, burst=0), session_rate=RateLimit(per_s=0, burst=0)
    )
    log = LongestLogLine()
    logging.getLogger().addHandler(log)
    async with running_suite(single_redis_settings, limits=unlimited) as suite:
        worker, worker_id = await ready_node(suite)
        client, client_session = await open_session(suite.ws_url())
        node, node_id = await fuzz_node(suite)
        session, session_id = await open_session(suite.ws_url())
        fuzz = FuzzWorld(suite, node, node_id, session, session_id)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(real_node(worker, worker_id)),
            asyncio.create_task(real_client(client, client_session, stop, fuzz.answered)),
        ]
        yield fuzz
        await fuzz.node.close()
        stop.set()
        # The real client finishes its utterance in flight: every one it sent is answered.
        await asyncio.wait_for(tasks[1], 15)
        tasks[0].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The run did something: the real session was answered throughout, and the
        # fuzzed peers were told what was wrong with what they sent.
        assert len(fuzz.answered) >= 3, fuzz.answered
        assert sum(m["type"] == "error" for m in fuzz.received) >= 20
        print(
            f"fuzz: {len(fuzz.received)} messages checked, {len(fuzz.answered)} real "
            f"utterances answered, {fuzz.reopened} reconnects"
        )
        for peer in (worker, client, fuzz.node, fuzz.session):
            await peer.close()
    logging.getLogger().removeHandler(log)
    assert len(log.longest) <= MAX_LOG_LINE, log.longest[:2000]


async def send_frames(peer: Peer, batch: list[Frame]) -> bool:
    """False when the batch had to end the connection (invalid UTF-8)."""
    for frame in batch:
        if frame.data == INVALID_UTF8:
            await peer.ws.send(INVALID_UTF8, text=True)
            return False
        await peer.ws.send(frame.data, text=frame.text)
    return True


async def read_until(world: FuzzWorld, peer: Peer, direction: str, probe_reply: str) -> None:
    """Read (and check) everything up to the reply to our probe; answer stray jobs."""
    for _ in range(1000):
        message = await peer.recv(10)
        if direction == "node" and message["type"] == "job_assign":
            await peer.send(answer(message, world.node_id))
        world.check(direction, message)
        if message["type"] == probe_reply or (
            message["type"] == "error" and "fuzz_probe" in message.get("message", "")
        ):
            return
    raise AssertionError("the probe was never answered")


async def closed_legitimately(peer: Peer, ended_by_us: bool) -> None:
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(1000):
            await peer.recv(10)
    code = closed.value.rcvd.code if closed.value.rcvd else None
    assert code in ALLOWED_CLOSES, (code, ended_by_us)
    assert ended_by_us or code != 1007


FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(batch=st.lists(frames(NODE_IN), max_size=5))
async def test_fuzzing_the_node_endpoint(world: FuzzWorld, batch: list[Frame]) -> None:
    batch = [world.aimed(frame) for frame in batch]
    try:
        if not await send_frames(world.node, batch):
            await closed_legitimately(world.node, ended_by_us=True)
            await world.reopen_node()
            return
        await world.node.send({"type": "fuzz_probe"})
        await read_until(world, world.node, "node", "fuzz_probe")
    except ConnectionClosed:
        await closed_legitimately(world.node, ended_by_us=False)
        await world.reopen_node()


@FUZZ
@given(batch=st.lists(frames(CLIENT_IN), max_size=5))
async def test_fuzzing_the_session_endpoint(world: FuzzWorld, batch: list[Frame]) -> None:
    batch = [world.aimed(frame) for frame in batch]
    if not await send_frames(world.session, batch):
        await closed_legitimately(world.session, ended_by_us=True)
        await world.reopen_session()
        return
    probe = {"type": "client_heartbeat", "session_id": world.session_id, "timestamp": 1}
    await world.session.send(probe)
    await read_until(world, world.session, "session", "server_heartbeat")
    if any(m["type"] == "session_close_ack" for m in world.received[-20:]):
        await world.session.close()
        await world.reopen_session()
