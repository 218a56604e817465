"""Ended node connections: a gateway that goes away with a thousand nodes does not start
a thousand give-ups at once (they would take every pooled Redis connection), and each
connection's news is looked at once however often it comes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from services.dispatcher.lost_connections import GIVE_UPS_AT_ONCE, LostConnections


class CountingRecovery:
    def __init__(self) -> None:
        self.at_once = 0
        self.most_at_once = 0
        self.given_up: list[tuple[str, bool]] = []
        self.release = asyncio.Event()

    async def fail_over(
        self,
        node_id: str,
        cause: str = "",
        *,
        under: Callable[[int], bool] | None = None,
        wait_for_a_node_ms: int = 0,
    ) -> int:
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await self.release.wait()
        finally:
            self.at_once -= 1
        assert under is not None
        self.given_up.append((node_id, under(7)))
        return 1


async def test_a_thousand_lost_connections_are_given_up_a_few_at_a_time() -> None:
    recovery = CountingRecovery()
    connections = LostConnections(recovery, grace_ms=0, wait_for_a_node_ms=0)
    for n in range(1_000):
        connections.lost(f"n{n}", 7)
    for _ in range(100):  # every give-up has had its turns to start
        await asyncio.sleep(0)
    assert recovery.at_once == GIVE_UPS_AT_ONCE
    recovery.release.set()
    await connections.wait(10.0)
    assert recovery.most_at_once == GIVE_UPS_AT_ONCE
    assert len(recovery.given_up) == 1_000
    assert all(this_epoch for _, this_epoch in recovery.given_up)


async def test_the_same_news_twice_is_looked_at_once() -> None:
    recovery = CountingRecovery()
    connections = LostConnections(recovery, grace_ms=0, wait_for_a_node_ms=0)
    connections.held("n1", 8)
    connections.held("n1", 8)
    recovery.release.set()
    await connections.wait(10.0)
    # Held under epoch 8: the connection of epoch 7 ended.
    assert recovery.given_up == [("n1", True)]
