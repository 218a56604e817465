"""The faults, one per phase: each starts by itself, is bounded in time, and ends with
the stack whole again (what was killed is running again, flapped nodes registered).

Only processes of the stack under test are killed, and only the harness's own fleet
talks to it, all on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.chaos.config import ChaosConfig
from tools.chaos.world import World
from tools.fleet import FakeNode
from tools.launcher.processes import ServiceProcess
from tools.launcher.supervisor import Child

POLL_S = 0.05


@dataclass(frozen=True)
class FaultEvent:
    started: float  # time.perf_counter() when the fault began
    restored: float  # when what failed was back (restarted and healthy, re-registered)
    detail: str
    # What the fault hit: jobs the nodes ran when it began, and of those, the jobs on
    # the nodes it cut off (their gateway killed, their socket dropped).
    jobs_running: int = 0
    jobs_cut_off: int | None = None  # None: the fault cuts off no node

    @property
    def down_s(self) -> float:
        return self.restored - self.started


class Fault(ABC):
    name: str
    summary: str

    def closes_sessions_on(self, world: World) -> set[str]:
        """The gateways (URLs) whose client sockets the fault drops: utterances left
        unanswered there are cut off, and sessions may fail to open there meanwhile."""
        return set()

    @abstractmethod
    async def inject(self, world: World, config: ChaosConfig) -> FaultEvent: ...


class NoFault(Fault):
    name = "none"
    summary = "no fault (the baseline)"

    async def inject(self, world: World, config: ChaosConfig) -> FaultEvent:
        now = time.perf_counter()
        return FaultEvent(now, now, "nothing done", jobs_running(world.nodes))


class KillRestart(Fault):
    """kill -9, then, after `down_s`, the same process started again on its ports."""

    def __init__(
        self,
        name: str,
        summary: str,
        pick: Callable[[World], Child],
        cuts_off: Callable[[World], list[FakeNode]] | None = None,
        closes_sessions: bool = False,
    ) -> None:
        self.name = name
        self.summary = summary
        self._pick = pick
        self._cuts_off = cuts_off
        self._closes_sessions = closes_sessions

    def closes_sessions_on(self, world: World) -> set[str]:
        child = self._pick(world)
        if not self._closes_sessions or not isinstance(child, ServiceProcess):
            return set()
        return {world.url_of(child)}

    async def inject(self, world: World, config: ChaosConfig) -> FaultEvent:
        child = self._pick(world)
        before = await self._before(world)
        running = jobs_running(world.nodes)
        cut_off = None if self._cuts_off is None else jobs_running(self._cuts_off(world))
        started = time.perf_counter()
        child.kill()
        await asyncio.sleep(config.down_s)
        child.spawn()  # from the loop's (main) thread: the child stays tethered
        await asyncio.to_thread(child.wait_ready, config.restart_timeout_s)
        restored = time.perf_counter()
        detail = f"{before}killed -9, back: {child.describe()}"
        return FaultEvent(started, restored, detail, running, cut_off)

    async def _before(self, world: World) -> str:
        return ""


class RedisRestartedEmpty(KillRestart):
    """The private redis-server killed and started again on its port with no data (it
    runs without persistence, as `make up` runs it)."""

    def __init__(self) -> None:
        super().__init__(
            "redis-empty",
            "Redis killed -9 and restarted empty on its port",
            lambda world: world.redis,
        )

    async def _before(self, world: World) -> str:
        keys = await world.redis_client.dbsize()
        return f"{keys} keys lost; "


class NodeFlaps(Fault):
    """Nodes' sockets dropped (no close handshake), a few at a time, for a few rounds;
    each node reconnects and registers again with its id, as the real agent does."""

    name = "node-flap"
    summary = "node sockets dropped, nodes re-register with their ids"

    async def inject(self, world: World, config: ChaosConfig) -> FaultEvent:
        nodes = world.nodes
        running, cut_off = jobs_running(nodes), 0
        started = time.perf_counter()
        flapped: dict[str, tuple[FakeNode, int]] = {}
        for round_ in range(config.flap_rounds):
            if round_:
                await asyncio.sleep(config.flap_gap_s)
            for j in range(config.flap_nodes):
                node = nodes[(round_ * config.flap_nodes + j) % len(nodes)]
                registrations, jobs = node.stats.registrations, node.in_flight
                if node.drop_socket():
                    flapped[node.config.name] = (node, registrations)
                    cut_off += jobs
        deadline = started + config.restart_timeout_s
        while any(n.stats.registrations <= before for n, before in flapped.values()):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"flapped nodes not registered again: {sorted(flapped)}")
            await asyncio.sleep(POLL_S)
        restored = time.perf_counter()
        detail = f"dropped {', '.join(sorted(flapped))}"
        return FaultEvent(started, restored, detail, running, cut_off)


def jobs_running(nodes: list[FakeNode]) -> int:
    return sum(node.in_flight for node in nodes)


def _registry(world: World) -> Child:
    assert world.stack.registry is not None
    return world.stack.registry


def _pool(world: World) -> Child:
    assert world.stack.pool is not None
    return world.stack.pool


def _dispatcher(index: int) -> Callable[[World], Child]:
    return lambda world: world.stack.dispatchers[index]


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        NoFault(),
        KillRestart("registry", "registry killed -9 and restarted", _registry),
        KillRestart("pool", "pool killed -9 and restarted", _pool),
        KillRestart("dispatcher-0", "dispatcher 0 of 2 killed -9 and restarted", _dispatcher(0)),
        KillRestart("dispatcher-1", "dispatcher 1 of 2 killed -9 and restarted", _dispatcher(1)),
        KillRestart(
            "gateway-nodes",
            "the gateway holding only nodes killed -9 and restarted",
            lambda world: world.node_gateway,
            cuts_off=lambda world: world.nodes_on(world.node_gateway),
        ),
        KillRestart(
            "gateway-sessions",
            "the gateway holding only sessions killed -9 and restarted",
            lambda world: world.session_gateway,
            closes_sessions=True,
        ),
        NodeFlaps(),
        RedisRestartedEmpty(),
    )
}


def get(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise KeyError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}") from None


def describe() -> list[dict[str, Any]]:
    return [{"name": f.name, "summary": f.summary} for f in FAULTS.values()]
