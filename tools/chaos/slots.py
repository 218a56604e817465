"""Slots held in Redis against the jobs the nodes really run.

A slot is one entry of a node's in-flight hash (`{node:ID}:inflight`: job id -> attempt),
reserved when a job is placed and released exactly once when it ends. What a node really
runs is what the fleet node holds (assigned, no result sent yet). Once the load stops
they must agree on every node: a slot held for a job no node runs is capacity lost for
good (until the slot audit frees it), a job running without a slot overcommits the node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from lingua_common.keys import Keys
from lingua_common.redis_client import RedisClient
from tools.fleet import FakeNode

POLL_S = 0.2


@dataclass(frozen=True)
class NodeSlots:
    node: str  # the fleet node's name
    node_id: str
    held: dict[str, int]  # slots in Redis: job id -> attempt
    running: dict[str, int]  # jobs the node runs: job id -> attempt

    @property
    def agrees(self) -> bool:
        return self.held == self.running

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "node_id": self.node_id,
            "held": self.held,
            "running": self.running,
            "agrees": self.agrees,
        }


@dataclass(frozen=True)
class SlotReport:
    first: list[NodeSlots]  # when the load had stopped
    last: list[NodeSlots]  # after settling (or the bound)
    settled_after_s: float | None  # None: never agreed within the bound

    @property
    def held(self) -> int:
        return sum(len(n.held) for n in self.last)

    @property
    def running(self) -> int:
        return sum(len(n.running) for n in self.last)

    @property
    def disagreeing(self) -> list[NodeSlots]:
        return [n for n in self.last if not n.agrees]

    def as_dict(self) -> dict[str, Any]:
        return {
            "held": self.held,
            "running": self.running,
            "settled_after_s": self.settled_after_s,
            "held_when_load_stopped": sum(len(n.held) for n in self.first),
            "running_when_load_stopped": sum(len(n.running) for n in self.first),
            "nodes": [n.as_dict() for n in self.last],
        }


class SlotReader:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def snapshot(self, nodes: Sequence[FakeNode]) -> list[NodeSlots]:
        known = [n for n in nodes if n.node_id is not None]
        try:
            replies = await self._read(known)
        except RedisConnectionError:  # a pooled connection to a Redis that was restarted
            replies = await self._read(known)
        return [
            NodeSlots(
                node=node.config.name,
                node_id=node.node_id or "",
                held={job.decode(): int(attempt) for job, attempt in reply.items()},
                running=node.running_jobs(),
            )
            for node, reply in zip(known, replies, strict=True)
        ]

    async def _read(self, nodes: Sequence[FakeNode]) -> list[dict[bytes, bytes]]:
        if not nodes:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for node in nodes:
            assert node.node_id is not None
            pipe.hgetall(self._keys.node_inflight(node.node_id))
        replies: list[dict[bytes, bytes]] = await pipe.execute()
        return replies

    async def settle(self, nodes: Sequence[FakeNode], bound_s: float) -> SlotReport:
        """Poll until every node's slots agree with what it runs, at most `bound_s`."""
        started = time.perf_counter()
        first = last = await self.snapshot(nodes)
        while True:
            if all(n.agrees for n in last):
                return SlotReport(first, last, time.perf_counter() - started)
            if time.perf_counter() - started >= bound_s:
                return SlotReport(first, last, None)
            await asyncio.sleep(POLL_S)
            last = await self.snapshot(nodes)
