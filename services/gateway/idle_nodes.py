"""Closes node sockets that have gone silent.

A node sends a heartbeat every interval; a host that crashed or lost its network sends
nothing more, not even a FIN, and its socket would stay open. One sweep over the node
links does this for all of them, where a WebSocket ping per socket cost every gateway
hundreds of ping/pong pairs a second at fleet size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from lingua_common.clock import Clock
from services.gateway.node_link import NodeLink

# Look this often relative to the timeout (a silent socket lives at most 1.25 x it).
CHECKS_PER_TIMEOUT = 4


class IdleNodeWatch:
    def __init__(self, links: Iterable[object], clock: Clock, timeout_ms: int) -> None:
        self._links = links
        self._clock = clock
        self._timeout_ms = timeout_ms

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._timeout_ms / CHECKS_PER_TIMEOUT / 1000)
            self.check_once()

    def check_once(self) -> int:
        """Close the node sockets silent for longer than the timeout; how many."""
        now = self._clock.now_ms()
        closed = 0
        for link in list(self._links):
            if not isinstance(link, NodeLink):
                continue
            silent_ms = now - link.last_heard_ms
            if silent_ms > self._timeout_ms:
                closed += link.silent(silent_ms)
        return closed
