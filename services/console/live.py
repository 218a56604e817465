"""Live pages: each open stream has a one-slot mailbox that keeps only the newest view,
so a slow page skips views instead of piling them up, and the number of streams is
bounded (one more is refused)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.console.overview import Overview


class TooManyClients(Exception):
    pass


class Subscription:
    def __init__(self, feed: LiveFeed) -> None:
        self._feed = feed
        self._mailbox: asyncio.Queue[Overview | None] = asyncio.Queue(maxsize=1)

    def offer(self, overview: Overview | None) -> None:
        if self._mailbox.full():
            self._mailbox.get_nowait()  # the older view is not worth sending any more
        self._mailbox.put_nowait(overview)

    async def next(self, timeout_s: float) -> Overview | None:
        """The newest view; None when the feed closed. TimeoutError when nothing came."""
        return await asyncio.wait_for(self._mailbox.get(), timeout_s)

    def close(self) -> None:
        self._feed.leave(self)


class LiveFeed:
    def __init__(self, max_clients: int) -> None:
        self._max_clients = max_clients
        self._subscriptions: set[Subscription] = set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._subscriptions)

    def join(self) -> Subscription:
        if self.closed or len(self._subscriptions) >= self._max_clients:
            raise TooManyClients(f"{len(self._subscriptions)} live pages already")
        subscription = Subscription(self)
        self._subscriptions.add(subscription)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, overview: Overview) -> None:
        for subscription in self._subscriptions:
            subscription.offer(overview)

    def close(self) -> None:
        """Every stream ends (shutdown)."""
        self.closed = True
        for subscription in self._subscriptions:
            subscription.offer(None)
