"""Sustained load: sessions of the simulated fleet that keep talking through faults.

Each user is a fleet client (tools/fleet/client.py). When its socket drops (its gateway
died), it opens a new session on the next session gateway, as a load balancer would
send it, and carries on; the utterances left unanswered on the dropped socket are
"cut off" (PROTOCOL.md has no session resume: nobody could deliver them).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence

from tools.fleet.answers import Answer, ClientReport
from tools.fleet.client import ClientConfig, FakeClient

RECONNECT_DELAY_S = 0.5

# One session (or one attempt to open one): the gateway it went to, what came of it.
SessionRun = tuple[str, ClientReport]


class ReconnectingSession:
    def __init__(
        self,
        config: ClientConfig,
        urls: Sequence[str],
        on_answer: Callable[[Answer], None],
        start_delay_s: float = 0.0,
        reconnect_delay_s: float = RECONNECT_DELAY_S,
    ) -> None:
        self._config = config
        self._start_delay_s = start_delay_s
        self._urls = list(urls)
        self._first_url = self._urls.index(config.url) if config.url in self._urls else 0
        self._on_answer = on_answer
        self._reconnect_delay_s = reconnect_delay_s
        self._stopped = asyncio.Event()
        self._client: FakeClient | None = None
        self.runs: list[SessionRun] = []

    def stop_sending(self) -> None:
        """Send nothing more; what is outstanding is still awaited (bounded)."""
        self._stopped.set()
        if self._client is not None:
            self._client.stop_sending()

    def abort(self) -> None:
        self._stopped.set()
        if self._client is not None:
            self._client.abort()

    async def run(self) -> list[SessionRun]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), self._start_delay_s)
        attempt = 0
        while True:
            config = self._attempt_config(attempt)
            client = FakeClient(config, on_result=self._on_answer)
            self._client = client
            if self._stopped.is_set():
                client.stop_sending()
            report = await client.run()
            self.runs.append((config.url, report))
            ended_cleanly = report.init_error is None and not report.connection_lost
            if ended_cleanly or self._stopped.is_set():
                return self.runs
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._reconnect_delay_s)
            if self._stopped.is_set():
                return self.runs

    def _attempt_config(self, attempt: int) -> ClientConfig:
        if attempt == 0:
            return self._config
        url = self._urls[(self._first_url + attempt) % len(self._urls)]
        # A new name gives the new session audio of its own.
        return dataclasses.replace(self._config, url=url, name=f"{self._config.name}-r{attempt}")


class SessionLoad:
    """Every session of one phase, started together and stopped together."""

    def __init__(self, sessions: list[ReconnectingSession]) -> None:
        self._sessions = sessions
        self._task: asyncio.Task[list[list[SessionRun]]] | None = None

    def start(self) -> None:
        async def run_all() -> list[list[SessionRun]]:
            return list(await asyncio.gather(*(s.run() for s in self._sessions)))

        self._task = asyncio.create_task(run_all(), name="chaos load")

    def stop_sending(self) -> None:
        for session in self._sessions:
            session.stop_sending()

    async def finish(self, bound_s: float) -> list[SessionRun]:
        """Stop sending, wait (bounded) for the outstanding answers; every report."""
        assert self._task is not None
        self.stop_sending()
        done, _ = await asyncio.wait({self._task}, timeout=bound_s)
        if not done:  # the clients' own bound should have ended them: end them now
            for session in self._sessions:
                session.abort()
        runs = await self._task
        return [run for session in runs for run in session]

    async def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            for session in self._sessions:
                session.abort()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
