"""Keeps the stack's processes running: a child that exits without being asked to is
started again, after a backoff, on the ports it had, and every step is logged.

The children are started from the loop's (main) thread, so they stay tethered to the
launcher (tether.py); only the wait for a restarted child to be healthy runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

from tools.launcher.backoff import RestartBackoff

POLL_S = 0.2
READY_TIMEOUT_S = 30.0


class Child(Protocol):
    """A supervised process (ServiceProcess, RedisServer)."""

    @property
    def name(self) -> str: ...

    def exit_code(self) -> int | None: ...

    def spawn(self) -> None: ...

    def wait_ready(self, timeout_s: float) -> None: ...

    def describe(self) -> str: ...

    def kill(self) -> None: ...


def exit_text(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exited with code {code}"


class Supervisor:
    def __init__(
        self,
        children: list[Child],
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
        first_delay_s: float = 0.5,
    ) -> None:
        self._children = children
        self._say = say
        self._clock = clock
        self._backoff = {c.name: RestartBackoff(first_s=first_delay_s) for c in children}
        self.restarts: dict[str, int] = dict.fromkeys(self._backoff, 0)

    async def run(self) -> None:
        """Watch every child until cancelled (the launcher cancels it before stopping)."""
        for child in self._children:
            self._backoff[child.name].started(self._clock())
        async with asyncio.TaskGroup() as group:
            for child in self._children:
                group.create_task(self._keep(child), name=f"supervise {child.name}")

    async def _keep(self, child: Child) -> None:
        backoff = self._backoff[child.name]
        while True:
            code = child.exit_code()
            if code is None:
                await asyncio.sleep(POLL_S)
                continue
            delay = backoff.next_delay(self._clock())
            self.restarts[child.name] += 1
            self._say(
                f"lingua: {child.name} {exit_text(code)}; restarting in {delay:.1f} s "
                f"(restart {self.restarts[child.name]})"
            )
            await asyncio.sleep(delay)
            backoff.started(self._clock())
            try:
                child.spawn()
                await asyncio.to_thread(child.wait_ready, READY_TIMEOUT_S)
            except Exception as error:  # it exited again, never got healthy, or no spawn
                self._say(f"lingua: {child.name} did not come back: {error}")
                # A hung one is killed, so the next round sees it exited and tries again.
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(child.kill)
                continue
            self._say(f"lingua: {child.name} is back ({child.describe()})")
