"""Outboxes of gateways: dropped once a gateway is away (no stream) for long and no longer
advertised — never while it holds a stream, even when its advertisement vanished (Redis
lost its data): its streams take from that very outbox."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua_common.settings import RedisSettings
from services.dispatcher.presence import Presence
from tests.services.dispatcher_rig import Rig, dispatcher_rig


@pytest.fixture
async def rig(redis_settings: RedisSettings) -> AsyncIterator[Rig]:
    async with dispatcher_rig(redis_settings) as running:
        yield running


def presence(rig: Rig) -> Presence:
    settings = dataclasses.replace(rig.settings, gateway_away_ms=0)
    return Presence(rig.store, rig.links, rig.clock, settings)


def message() -> link_pb.DispatcherMessage:
    return link_pb.DispatcherMessage(traceparent="x")


async def test_a_linked_gateway_keeps_its_outbox_when_its_advertisement_is_gone(rig: Rig) -> None:
    outbox = rig.links.attached("gw-new")  # its first stream ever: the outbox is created
    assert not await rig.store.gateway_advertised("gw-new")
    assert await presence(rig).prune_once() == 0
    assert rig.links.send("gw-new", message())
    assert len(outbox) == 1  # what the stream takes from


async def test_a_gateway_away_and_not_advertised_loses_its_outbox(rig: Rig) -> None:
    rig.links.attached("gw-gone")
    rig.links.detached("gw-gone")
    rig.links.send("gw-gone", message())
    assert await presence(rig).prune_once() == 1
    assert len(rig.links.outbox("gw-gone")) == 0  # a fresh one


async def test_a_gateway_away_but_advertised_keeps_its_outbox(rig: Rig) -> None:
    rig.links.attached("gw-away")
    rig.links.detached("gw-away")
    rig.links.send("gw-away", message())
    await rig.redis.set(rig.keys.gateway("gw-away"), "127.0.0.1:1", px=60_000)
    assert await presence(rig).prune_once() == 0
    assert len(rig.links.outbox("gw-away")) == 1
