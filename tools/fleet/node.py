"""A fake GPU node agent: registers, heartbeats and answers job_assign like a real agent.

With `heartbeat_outlives_socket` it reconnects the way the network's real agent does:
one heartbeat timer for the agent's life (not per socket), so on a new socket a beat
goes out before `node_register`; it registers again with its previous id; back-off
between attempts (`reconnect_initial_s` doubling to `reconnect_max_s`, 5 s … 60 s for
the real one). `drop_every_s` drops its socket now and then, mid-job if it has any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from tools.fleet import jobs, node_caps
from tools.fleet.jobs import NODE_OVERLOADED, PROCESSING_ERROR, Job
from tools.fleet.metrics import REGISTER, LatencyRecorder
from tools.fleet.node_config import NodeConfig, NodeStats
from tools.fleet.schema import ViolationLog
from tools.fleet.wire import (
    NODE_PATH,
    JsonObject,
    decode,
    endpoint_url,
    now_ms,
    open_ws,
    send_json,
)

log = logging.getLogger(__name__)

__all__ = ["FakeNode", "NodeConfig", "NodeStats"]


class _RegisterFailed(Exception):
    pass


_CONNECT_ERRORS = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, _RegisterFailed)


# Something worth showing happened to a node: (node name, what).
NodeEvent = Callable[[str, str], None]


class FakeNode:
    def __init__(
        self,
        config: NodeConfig,
        recorder: LatencyRecorder | None = None,
        on_event: NodeEvent | None = None,
    ) -> None:
        self.config = config
        self.recorder = recorder
        self._on_event = on_event
        self._ws: ClientConnection | None = None  # the socket the agent's timer beats on
        self.node_id: str | None = None
        self.registered = asyncio.Event()
        self.stats = NodeStats()
        self._url = endpoint_url(config.url, NODE_PATH, {"token": config.token})
        self._rng = random.Random(config.seed)
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._jobs: dict[str, Job] = {}
        self._busy_utterances: set[tuple[str, int]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._violations = ViolationLog("node_in")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    def running_jobs(self) -> dict[str, int]:
        """The jobs this node holds now (assigned, no result sent yet): id -> attempt."""
        return {job_id: job.attempt_id for job_id, job in self._jobs.items()}

    def drop_socket(self) -> bool:
        """Drop the open socket now, without a close handshake (the network went away);
        the node reconnects and registers again with its id. False when none is open."""
        ws = self._ws
        if ws is None:
            return False
        self.stats.drops += 1
        self._tell(f"socket dropped with {self.in_flight} job(s) in flight")
        ws.transport.abort()
        return True

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"fleet-{self.config.name}")
        return self._task

    async def wait_registered(self, timeout_s: float) -> None:
        await asyncio.wait_for(self.registered.wait(), timeout_s)

    async def wait_idle(self, timeout_s: float) -> None:
        """Until no job is in flight (TimeoutError after `timeout_s`)."""
        await asyncio.wait_for(self._idle.wait(), timeout_s)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close the socket and end the run loop; cancel it if it is stuck connecting."""
        self._stopping.set()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def run(self) -> None:
        """Connect, serve, and reconnect with back-off until stopped."""
        timer = None
        if self.config.heartbeat_outlives_socket:
            timer = asyncio.create_task(self._agent_timer())
        try:
            await self._connect_loop()
        finally:
            if timer is not None:
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)

    async def _connect_loop(self) -> None:
        delay = self.config.reconnect_initial_s
        while not self._stopping.is_set():
            registrations = self.stats.registrations
            try:
                async with open_ws(self._url, self.config.open_timeout_s) as ws:
                    self.stats.connects += 1
                    await self._serve(ws)
            except InvalidURI:
                log.error("%s: invalid URL %s", self.config.name, self._url)
                return
            except _CONNECT_ERRORS as exc:
                log.info("%s: connection lost (%s: %s)", self.config.name, type(exc).__name__, exc)
            finally:
                self.registered.clear()
                await self._drop_jobs()
            if self._stopping.is_set():
                break
            if self.stats.registrations > registrations:  # a good connection resets back-off
                delay = self.config.reconnect_initial_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self.config.reconnect_max_s)

    async def _serve(self, ws: ClientConnection) -> None:
        closer = asyncio.create_task(self._close_on_stop(ws))
        extras: list[asyncio.Task[None]] = []
        self._ws = ws
        try:
            if self.config.heartbeat_outlives_socket and self.node_id is not None:
                # The agent's timer fired while it was reconnecting: its beat goes first.
                await send_json(ws, self._beat())
                self.stats.early_heartbeats += 1
                self._tell("heartbeat sent before node_register (its timer outlived the socket)")
            await self._register(ws)
            if self.config.heartbeat_outlives_socket:
                await send_json(ws, self._beat())  # one at once after the ack; then the timer
            else:
                extras.append(asyncio.create_task(self._heartbeat_loop(ws)))
            if self.config.drop_every_s is not None:
                extras.append(asyncio.create_task(self._drop_after(ws, self.config.drop_every_s)))
            async for frame in ws:
                message = self._decode(frame)
                if message is not None and await self._on_message(ws, message):
                    break
        finally:
            self._ws = None
            for task in (closer, *extras):
                task.cancel()
            await asyncio.gather(closer, *extras, return_exceptions=True)

    def _beat(self) -> JsonObject:
        assert self.node_id is not None
        return node_caps.heartbeat_message(
            self.node_id, now_ms(), self.in_flight, self.config.max_in_flight
        )

    async def _agent_timer(self) -> None:
        """One heartbeat timer for the agent's whole life, whatever socket is open."""
        while True:
            await asyncio.sleep(self.config.heartbeat_interval_s)
            ws = self._ws
            if ws is not None and self.node_id is not None:
                with contextlib.suppress(ConnectionClosed):
                    await send_json(ws, self._beat())

    async def _drop_after(self, ws: ClientConnection, after_s: float) -> None:
        await asyncio.sleep(after_s)
        if self._ws is ws:
            self.drop_socket()

    def _tell(self, what: str) -> None:
        log.info("%s: %s", self.config.name, what)
        if self._on_event is not None:
            self._on_event(self.config.name, what)

    def _decode(self, frame: str | bytes) -> JsonObject | None:
        message = decode(frame)
        problems = self._violations.observe(message) if message is not None else []
        if problems:
            self.stats.protocol_violations = self._violations.count
            self.stats.violation_samples = self._violations.samples
            log.warning("%s: off-protocol message: %s", self.config.name, "; ".join(problems))
        return message

    async def _close_on_stop(self, ws: ClientConnection) -> None:
        await self._stopping.wait()
        await ws.close()

    async def _register(self, ws: ClientConnection) -> None:
        started = time.perf_counter()
        cfg = self.config
        await send_json(
            ws, node_caps.register_message(cfg.pairs, self.node_id, cfg.accept_public_jobs)
        )
        async with asyncio.timeout(cfg.register_timeout_s):
            async for frame in ws:
                message = self._decode(frame)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "node_register_ack" and isinstance(message.get("node_id"), str):
                    self.node_id = message["node_id"]
                    break
                if kind == "error":
                    self.stats.server_errors += 1
                    if message.get("code") == "NODE_ID_CONFLICT":
                        self.node_id = None  # register afresh next time
                    raise _RegisterFailed(f"{message.get('code')}: {message.get('message')}")
                log.debug("%s: ignoring %s before node_register_ack", cfg.name, kind)
            else:
                raise _RegisterFailed("closed before node_register_ack")
        self.stats.registrations += 1
        if self.recorder is not None:
            self.recorder.add(REGISTER, time.perf_counter() - started)
        if self.stats.registrations > 1:
            self._tell(f"registered again as {self.node_id}")
        else:
            log.info("%s: registered as %s", cfg.name, self.node_id)
        self.registered.set()

    async def _heartbeat_loop(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await send_json(ws, self._beat())
                await asyncio.sleep(self.config.heartbeat_interval_s)

    async def _on_message(self, ws: ClientConnection, message: JsonObject) -> bool:
        """Handle one scheduler message; True asks to drop the connection."""
        kind = message["type"]
        if kind == "job_assign":
            await self._on_assign(ws, message)
        elif kind == "job_cancel":
            self._on_cancel(message)
        elif kind == "node_control":
            command = str(message.get("command"))
            log.info("%s: node_control %s (%s)", self.config.name, command, message.get("reason"))
            if len(self.stats.controls) < 64:
                self.stats.controls.append(command)
            return command == "reconnect"
        elif kind == "error":
            self.stats.server_errors += 1
            log.warning("%s: server error %s: %s", self.config.name, message.get("code"), message)
        else:
            log.debug("%s: ignoring %s", self.config.name, kind)
        return False

    async def _on_assign(self, ws: ClientConnection, message: JsonObject) -> None:
        job = jobs.parse_assign(message)
        if job is None:
            self.stats.invalid += 1
            log.warning(
                "%s: job_assign without its required fields: %.200s", self.config.name, message
            )
            return
        self.stats.assigned += 1
        if self.recorder is not None:
            self.recorder.assign_received(
                job.session_id, job.utterance_index, job.job_id, time.perf_counter()
            )
        utterance = (job.session_id, job.utterance_index)
        if job.job_id in self._jobs or utterance in self._busy_utterances:
            self.stats.refused += 1
            await self._send_failure(ws, message, PROCESSING_ERROR, "duplicate job in progress")
            return
        if self.in_flight >= self.config.max_in_flight + self.config.max_queued:
            self.stats.refused += 1
            await self._send_failure(ws, message, NODE_OVERLOADED, "node queue is full")
            return
        self._jobs[job.job_id] = job
        self._busy_utterances.add(utterance)
        self._idle.clear()
        job.task = asyncio.create_task(self._process(ws, job, message))

    def _on_cancel(self, message: JsonObject) -> None:
        job = self._jobs.get(str(message.get("job_id")))
        if job is None or job.task is None:
            return
        self.stats.cancelled += 1
        job.task.cancel()  # dropped silently: no job_result for a cancelled job

    async def _process(self, ws: ClientConnection, job: Job, assign: JsonObject) -> None:
        try:
            async with self._slots:
                started = time.perf_counter()
                await asyncio.sleep(self._delay_s())
                result = self._result(assign, started)
                if self.recorder is not None:
                    self.recorder.result_sent(
                        job.session_id, job.utterance_index, time.perf_counter()
                    )
                await send_json(ws, result)
        except ConnectionClosed:
            log.debug("%s: connection closed before the result of %s", self.config.name, job.job_id)
        finally:
            self._jobs.pop(job.job_id, None)
            self._busy_utterances.discard((job.session_id, job.utterance_index))
            if not self._jobs:
                self._idle.set()

    def _delay_s(self) -> float:
        jitter = self.config.jitter_ms
        delay_ms = self.config.processing_ms + self._rng.uniform(-jitter, jitter)
        return max(0.0, delay_ms) / 1000.0

    def _result(self, assign: JsonObject, started: float) -> JsonObject:
        draw = self._rng.random()
        audio = jobs.decode_audio(assign)
        if audio is None:
            self.stats.failed += 1
            return jobs.failure_result(
                assign, self.node_id, PROCESSING_ERROR, "audio is not base64"
            )
        if draw < self.config.failure_rate:
            self.stats.failed += 1
            return jobs.failure_result(
                assign, self.node_id, PROCESSING_ERROR, "simulated processing failure"
            )
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        if draw < self.config.failure_rate + self.config.empty_rate:
            self.stats.empty += 1
            return jobs.empty_result(assign, self.node_id, elapsed_ms)
        self.stats.completed += 1
        return jobs.success_result(assign, self.node_id, audio, elapsed_ms, self.config.tts_bytes)

    async def _send_failure(
        self, ws: ClientConnection, assign: JsonObject, code: str, text: str
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            await send_json(ws, jobs.failure_result(assign, self.node_id, code, text))

    async def _drop_jobs(self) -> None:
        # Results cannot outlive their connection: the scheduler re-dispatches them.
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        self._busy_utterances.clear()
        self._idle.set()
