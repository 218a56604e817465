"""The node event feed: a registration's event is written in the background, and a
node's later events still reach the feed after it."""

from __future__ import annotations

import asyncio

import pytest

from services.registry import event_feed
from services.registry.event_feed import EventFeed
from services.registry.model import NodeEvent


class GatedStore:
    """Records writes in the order they complete; a write of a gated node waits."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail_next = False

    async def append_events(self, events: list[NodeEvent]) -> None:
        for event in events:
            gate = self.gates.get(event.node_id)
            if gate is not None and event.kind == "registered":
                await gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("redis went away")
        self.written += [(e.node_id, e.kind) for e in events]


def event(node_id: str, kind: str) -> NodeEvent:
    return NodeEvent("", kind, node_id, 1, "ready", "", 0)


def feed_of(store: GatedStore) -> EventFeed:
    return EventFeed(store)  # type: ignore[arg-type]


async def test_a_later_event_of_the_node_waits_for_its_registration_event() -> None:
    store = GatedStore()
    store.gates["n1"] = asyncio.Event()
    feed = feed_of(store)
    await feed.append_soon(event("n1", "registered"))  # returns at once: the ack goes out
    await feed.append_soon(event("n2", "registered"))
    later = asyncio.create_task(feed.append([event("n1", "status_changed"), event("n2", "x")]))
    await asyncio.sleep(0.05)
    assert store.written == [("n2", "registered")]
    assert not later.done()
    store.gates["n1"].set()
    await later
    assert store.written == [
        ("n2", "registered"),
        ("n1", "registered"),
        ("n1", "status_changed"),
        ("n2", "x"),
    ]
    await feed.flush()


async def test_a_failed_background_write_is_logged_and_does_not_block_the_node(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = GatedStore()
    store.fail_next = True
    feed = feed_of(store)
    await feed.append_soon(event("n1", "registered"))
    await feed.flush()
    await feed.append([event("n1", "offline")])
    assert store.written == [("n1", "offline")]
    assert "node event not written" in caplog.text


async def test_background_writes_are_bounded_then_the_caller_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_feed, "MAX_BACKGROUND_WRITES", 2)
    store = GatedStore()
    gate = asyncio.Event()
    for node_id in ("a", "b", "c"):
        store.gates[node_id] = gate
    feed = feed_of(store)
    await feed.append_soon(event("a", "registered"))
    await feed.append_soon(event("b", "registered"))
    third = asyncio.create_task(feed.append_soon(event("c", "registered")))
    await asyncio.sleep(0.05)
    assert not third.done()  # two under way: this one is written by its caller
    gate.set()
    await third
    await feed.flush()
    assert sorted(store.written) == [("a", "registered"), ("b", "registered"), ("c", "registered")]
