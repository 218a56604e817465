"""Client channels to other services, created once and shared."""

from __future__ import annotations

import json
from typing import Any

import grpc

from lingua_common.telemetry.tracing import client_interceptors

CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.enable_retries", 1),
    # With several addresses (a headless Service, or "ipv4:a,b"), spread calls over all of
    # them and route around one that died.
    ("grpc.lb_policy_name", "round_robin"),
    # A restarted peer is reachable again within ~2 s, not after gRPC's default backoff
    # (which grows towards two minutes while calls fail fast).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


def retry_policy(service: str, methods: list[str]) -> dict[str, Any]:
    """A gRPC service-config entry retrying these (idempotent) methods, bounded."""
    return {
        "name": [{"service": service, "method": m} for m in methods],
        "retryPolicy": {
            "maxAttempts": 5,
            "initialBackoff": "0.05s",
            "maxBackoff": "1s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
        },
    }


def insecure_channel(target: str, retries: list[dict[str, Any]] | None = None) -> grpc.aio.Channel:
    """A channel; `retries` (see retry_policy) lets gRPC retry idempotent calls itself."""
    options: tuple[tuple[str, Any], ...] = CHANNEL_OPTIONS
    if retries:
        config = json.dumps({"methodConfig": retries})
        options = (*CHANNEL_OPTIONS, ("grpc.service_config", config))
    return grpc.aio.insecure_channel(target, options=options, interceptors=client_interceptors())


class ChannelCache:
    """One channel per target address (e.g. one per gateway replica)."""

    def __init__(self, retries: list[dict[str, Any]] | None = None) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._retries = retries

    def get(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = insecure_channel(target, self._retries)
            self._channels[target] = channel
        return channel

    async def drop(self, target: str) -> None:
        channel = self._channels.pop(target, None)
        if channel is not None:
            await channel.close(None)

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close(None)
