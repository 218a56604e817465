"""Client channels to other services, created once and shared. A channel made with the
service credential (`token`) presents it on every call (`authorization: Bearer …`)."""

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


def insecure_channel(
    target: str, retries: list[dict[str, Any]] | None = None, *, token: str = ""
) -> grpc.aio.Channel:
    """A channel; `retries` (see retry_policy) lets gRPC retry idempotent calls itself;
    `token` is presented as a bearer token on every call."""
    options: tuple[tuple[str, Any], ...] = CHANNEL_OPTIONS
    if retries:
        config = json.dumps({"methodConfig": retries})
        options = (*CHANNEL_OPTIONS, ("grpc.service_config", config))
    channel = grpc.aio.insecure_channel(target, options=options, interceptors=client_interceptors())
    return BearerChannel(channel, token) if token else channel


class _WithMetadata:
    """A stub's callable (any kind) that adds fixed metadata to every call. No client
    interceptor: those cost a task per call and a queue hop per streamed message."""

    def __init__(self, inner: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        self._inner = inner
        self._metadata = metadata

    def __call__(self, *args: Any, metadata: Any = None, **kwargs: Any) -> Any:
        merged = (*tuple(metadata or ()), *self._metadata)
        return self._inner(*args, metadata=merged, **kwargs)


class BearerChannel(grpc.aio.Channel):
    """A channel whose every call carries `authorization: Bearer <token>`."""

    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self._channel = channel
        self._metadata = (("authorization", f"Bearer {token}"),)

    async def __aenter__(self) -> BearerChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._channel.close(None)

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _WithMetadata(self._channel.unary_unary(*args, **kwargs), self._metadata)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _WithMetadata(self._channel.unary_stream(*args, **kwargs), self._metadata)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _WithMetadata(self._channel.stream_unary(*args, **kwargs), self._metadata)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _WithMetadata(self._channel.stream_stream(*args, **kwargs), self._metadata)


class ChannelCache:
    """One channel per target address (e.g. one per gateway replica)."""

    def __init__(self, retries: list[dict[str, Any]] | None = None, *, token: str = "") -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._retries = retries
        self._token = token

    def get(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = insecure_channel(target, self._retries, token=self._token)
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
