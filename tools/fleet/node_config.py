"""A fake node's settings and counters."""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.fleet.node_caps import Pair


@dataclass(frozen=True)
class NodeConfig:
    url: str  # gateway base (ws://host:port) or the full /ws/node URL
    pairs: tuple[Pair, ...] = (("zh", "en"), ("en", "zh"))
    name: str = "node"
    processing_ms: float = 50.0
    jitter_ms: float = 0.0
    failure_rate: float = 0.0
    empty_rate: float = 0.0
    max_in_flight: int = 4  # jobs processed at once; more are queued
    max_queued: int = 16  # beyond in-flight + queued a job is refused as NODE_OVERLOADED
    heartbeat_interval_s: float = 15.0
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 5.0
    register_timeout_s: float = 10.0
    open_timeout_s: float = 5.0
    token: str | None = None
    tts_bytes: int = 0  # size of the fake TTS audio; 0 sends tts_audio ""
    accept_public_jobs: bool = True
    seed: int | None = None
    # As the network's real agent: its heartbeat timer outlives the socket, so on a new
    # socket a beat goes out before node_register (PROTOCOL.md "Reconnect order").
    heartbeat_outlives_socket: bool = False
    # The socket drops (no close handshake) this long after each registration: a flaky
    # network. None: it never drops by itself.
    drop_every_s: float | None = None


@dataclass
class NodeStats:
    connects: int = 0
    registrations: int = 0
    assigned: int = 0
    completed: int = 0
    failed: int = 0
    empty: int = 0
    refused: int = 0
    cancelled: int = 0
    invalid: int = 0
    server_errors: int = 0
    drops: int = 0  # sockets dropped on purpose (drop_every_s, drop_socket())
    early_heartbeats: int = 0  # beats sent on a new socket before node_register
    protocol_violations: int = 0
    violation_samples: list[str] = field(default_factory=list)
    controls: list[str] = field(default_factory=list)
