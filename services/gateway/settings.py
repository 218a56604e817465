"""Gateway settings, built from the environment once in main."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import SettingsError, env_bool, env_float, env_int, env_str
from lingua_common.settings import RedisSettings, ServerSettings
from services.gateway.client_address import Network, parse_networks
from services.gateway.cutting import CutSettings
from services.gateway.groups import GroupSettings
from services.gateway.heartbeat_uplink import MAX_BEATS_PER_BATCH, MAX_LINGER_S, UplinkSettings

DEFAULT_CREDENTIAL_SALT = "lingua-node-credential-v1"


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per connection: `per_s` messages (or bytes) a second, bursts of
    `burst`."""

    per_s: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.per_s > 0


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 1024 * 1024
    max_audio_bytes: int = 512 * 1024
    # Messages and bytes queued for one peer before it counts as too slow (closed 1008).
    send_queue: int = 256
    send_queue_bytes: int = 16 * 1024 * 1024
    # Accepted utterances of one session still waiting for their answer.
    max_outstanding_per_session: int = 64
    # Audio of unanswered utterances kept per session, to create their jobs again should
    # Redis lose its data (beyond it the oldest are let go: those would time out).
    session_keep_bytes: int = 8 * 1024 * 1024
    # A node's results and reports under way at once (more waits: TCP backpressure).
    node_inflight_tasks: int = 256
    node_inflight_bytes: int = 8 * 1024 * 1024
    node_rate: RateLimit = RateLimit(per_s=200, burst=400)
    session_rate: RateLimit = RateLimit(per_s=100, burst=200)
    # Bytes per connection: a connection over its budget is not read until it is back
    # within it (TCP backpressure). A node's results carry TTS audio; a client's audio
    # is ~43 KB/s even as base64 PCM16, so 256 KiB/s is six times real time.
    node_bytes: RateLimit = RateLimit(per_s=4 * 1024 * 1024, burst=8 * 1024 * 1024)
    session_bytes: RateLimit = RateLimit(per_s=256 * 1024, burst=2 * 1024 * 1024)
    # Messages refused in a row (over the rate) before the connection is closed 1008.
    rate_strikes: int = 50
    # Open WebSockets from one IP address (0: no limit).
    max_connections_per_ip: int = 1000


@dataclass(frozen=True)
class AuthSettings:
    """Who may connect. Secrets are kept out of repr (settings may end up in logs)."""

    disabled: bool = False
    node_tokens: tuple[str, ...] = field(default=(), repr=False)
    # (API key, tenant); an empty tenant lets the client name its own.
    client_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Salts the fingerprint of a node token the registry keeps (same on every replica).
    credential_salt: str = field(default=DEFAULT_CREDENTIAL_SALT, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthSettings:
        return cls(
            disabled=env_bool(env, "LINGUA_AUTH_DISABLED", False),
            node_tokens=parse_node_tokens(env_str(env, "LINGUA_NODE_TOKENS", "")),
            client_keys=parse_client_keys(env_str(env, "LINGUA_CLIENT_API_KEYS", "")),
            credential_salt=env_str(env, "LINGUA_CREDENTIAL_SALT", DEFAULT_CREDENTIAL_SALT),
        )

    def validate(self) -> None:
        if self.disabled:
            return
        missing = [
            name
            for name, values in (
                ("LINGUA_NODE_TOKENS", self.node_tokens),
                ("LINGUA_CLIENT_API_KEYS", self.client_keys),
            )
            if not values
        ]
        if missing:
            raise SettingsError(
                f"authentication is on but {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} empty: configure them, or set "
                "LINGUA_AUTH_DISABLED=true to accept every peer without credentials"
            )


def parse_node_tokens(raw: str) -> tuple[str, ...]:
    """`tok1,tok2`: plain tokens, comma-separated (blanks around them ignored)."""
    return tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))


def parse_client_keys(raw: str) -> tuple[tuple[str, str], ...]:
    """`key1:tenant1,key2:tenant2`; a key without `:tenant` is bound to no tenant."""
    keys: dict[str, str] = {}
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        key, _, tenant = entry.partition(":")
        key, tenant = key.strip(), tenant.strip()
        if not key:
            raise SettingsError(
                "LINGUA_CLIENT_API_KEYS: an entry has an empty key (format key:tenant,…)"
            )
        keys[key] = tenant
    return tuple(keys.items())


@dataclass(frozen=True)
class GatewaySettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    gateway_id: str = ""
    ws_host: str = "127.0.0.1"
    ws_port: int = 5010
    # The address other services use to reach this replica's gRPC server.
    advertise_host: str = "127.0.0.1"
    registry_address: str = "127.0.0.1:50051"
    dispatcher_address: str = "127.0.0.1:50053"
    owner_ttl_ms: int = 30_000
    owner_refresh_ms: int = 5_000
    session_ttl_ms: int = 6 * 3600 * 1000
    answer_timeout_ms: int = 60_000
    # A node whose socket closed is offline unless it is back (new epoch) within this.
    node_offline_grace_ms: int = 1_000
    # A node socket with no frame for this long is closed: nodes beat every 15 s, so
    # three missed beats mean a host that is gone (a crash sends no FIN). This, not a
    # WebSocket ping per socket, is what watches node sockets (sessions keep pings).
    node_idle_timeout_ms: int = 45_000
    tick_ms: int = 50
    drain_timeout_ms: int = 5_000
    rpc_timeout_ms: int = 5_000
    cutting: CutSettings = field(default_factory=CutSettings)
    groups: GroupSettings = field(default_factory=GroupSettings)
    limits: Limits = field(default_factory=Limits)
    auth: AuthSettings = field(default_factory=AuthSettings)
    heartbeat_uplink: UplinkSettings = field(default_factory=UplinkSettings)
    # Load balancers / ingresses whose X-Forwarded-For is believed (client_address.py).
    trusted_proxies: tuple[Network, ...] = ()

    def validate(self) -> None:
        """Refuse settings the gateway must not start with (raises SettingsError)."""
        self.auth.validate()
        cut = self.cutting
        if cut.blip_hold_ms < cut.pause_ms:
            raise SettingsError("LINGUA_CUT_BLIP_HOLD_MS must be >= LINGUA_CUT_PAUSE_MS")
        if min(cut.pause_ms, cut.max_duration_ms, cut.max_bytes, cut.max_playback_ms) <= 0:
            raise SettingsError("cutting pause, max duration, max bytes, playback must be > 0")
        if not 1 <= self.heartbeat_uplink.max_batch <= MAX_BEATS_PER_BATCH:
            raise SettingsError(
                f"LINGUA_HEARTBEAT_BATCH_MAX must be within 1..{MAX_BEATS_PER_BATCH}"
            )
        if not 0 <= self.heartbeat_uplink.linger_s <= MAX_LINGER_S:
            raise SettingsError(
                f"LINGUA_HEARTBEAT_BATCH_LINGER_MS must be within 0..{MAX_LINGER_S * 1000:.0f}"
            )
        if self.groups.window_ms < 0 or self.groups.context_chars < 0:
            raise SettingsError(
                "LINGUA_GROUP_WINDOW_MS and LINGUA_GROUP_CONTEXT_CHARS must be >= 0"
            )
        if self.node_idle_timeout_ms <= 0:
            raise SettingsError("LINGUA_NODE_IDLE_TIMEOUT_MS must be > 0")
        lim = self.limits
        bounds = (
            lim.send_queue,
            lim.send_queue_bytes,
            lim.rate_strikes,
            lim.node_inflight_tasks,
            lim.node_inflight_bytes,
        )
        if min(bounds) <= 0:
            raise SettingsError(
                "send queue sizes, in-flight bounds and LINGUA_RATE_STRIKES must be > 0"
            )
        budgets = (lim.node_rate, lim.session_rate, lim.node_bytes, lim.session_bytes)
        if any(b.per_s < 0 or b.burst < 0 for b in budgets):
            raise SettingsError("LINGUA_*_MSGS_* and LINGUA_*_BYTES_* must be >= 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings:
        default_id = f"gw-{socket.gethostname()}-{os.getpid()}"
        try:
            trusted_proxies = parse_networks(env_str(env, "LINGUA_TRUSTED_PROXIES", ""))
        except ValueError as exc:
            raise SettingsError(f"LINGUA_TRUSTED_PROXIES: {exc}") from exc
        settings = cls(
            server=ServerSettings.from_env(env, default_port=50054, default_metrics_port=9104),
            trusted_proxies=trusted_proxies,
            redis=RedisSettings.from_env(env),
            gateway_id=env_str(env, "LINGUA_GATEWAY_ID", default_id),
            ws_host=env_str(env, "LINGUA_WS_HOST", cls.ws_host),
            ws_port=env_int(env, "LINGUA_WS_PORT", cls.ws_port),
            advertise_host=env_str(env, "LINGUA_ADVERTISE_HOST", cls.advertise_host),
            registry_address=env_str(env, "LINGUA_REGISTRY_ADDRESS", cls.registry_address),
            dispatcher_address=env_str(env, "LINGUA_DISPATCHER_ADDRESS", cls.dispatcher_address),
            owner_ttl_ms=env_int(env, "LINGUA_OWNER_TTL_MS", cls.owner_ttl_ms),
            answer_timeout_ms=env_int(env, "LINGUA_ANSWER_TIMEOUT_MS", cls.answer_timeout_ms),
            node_offline_grace_ms=env_int(
                env, "LINGUA_NODE_OFFLINE_GRACE_MS", cls.node_offline_grace_ms
            ),
            node_idle_timeout_ms=env_int(
                env,
                "LINGUA_NODE_IDLE_TIMEOUT_MS",
                # Three intervals, as the registry counts them (same variable).
                3 * env_int(env, "LINGUA_HEARTBEAT_INTERVAL_MS", 15_000),
            ),
            drain_timeout_ms=env_int(env, "LINGUA_DRAIN_TIMEOUT_MS", cls.drain_timeout_ms),
            cutting=_cutting_from_env(env),
            groups=GroupSettings(
                window_ms=env_int(env, "LINGUA_GROUP_WINDOW_MS", GroupSettings.window_ms),
                context_chars=env_int(
                    env, "LINGUA_GROUP_CONTEXT_CHARS", GroupSettings.context_chars
                ),
            ),
            limits=_limits_from_env(env),
            auth=AuthSettings.from_env(env),
            heartbeat_uplink=UplinkSettings(
                max_batch=env_int(env, "LINGUA_HEARTBEAT_BATCH_MAX", UplinkSettings.max_batch),
                linger_s=env_int(
                    env,
                    "LINGUA_HEARTBEAT_BATCH_LINGER_MS",
                    round(UplinkSettings.linger_s * 1000),
                )
                / 1000,
            ),
        )
        settings.validate()
        return settings


def _cutting_from_env(env: Mapping[str, str]) -> CutSettings:
    d = CutSettings()
    return CutSettings(
        pause_ms=env_int(env, "LINGUA_CUT_PAUSE_MS", d.pause_ms),
        max_duration_ms=env_int(env, "LINGUA_CUT_MAX_DURATION_MS", d.max_duration_ms),
        max_bytes=env_int(env, "LINGUA_CUT_MAX_BYTES", d.max_bytes),
        min_pause_cut_ms=env_int(env, "LINGUA_CUT_MIN_PAUSE_CUT_MS", d.min_pause_cut_ms),
        blip_hold_ms=env_int(env, "LINGUA_CUT_BLIP_HOLD_MS", d.blip_hold_ms),
        max_playback_ms=env_int(env, "LINGUA_CUT_MAX_PLAYBACK_MS", d.max_playback_ms),
    )


def _limits_from_env(env: Mapping[str, str]) -> Limits:
    d = Limits()
    return Limits(
        max_frame_bytes=env_int(env, "LINGUA_MAX_FRAME_BYTES", d.max_frame_bytes),
        max_audio_bytes=env_int(env, "LINGUA_MAX_AUDIO_BYTES", d.max_audio_bytes),
        send_queue=env_int(env, "LINGUA_SEND_QUEUE", d.send_queue),
        send_queue_bytes=env_int(env, "LINGUA_SEND_QUEUE_BYTES", d.send_queue_bytes),
        session_keep_bytes=env_int(env, "LINGUA_SESSION_KEEP_BYTES", d.session_keep_bytes),
        max_outstanding_per_session=env_int(
            env, "LINGUA_MAX_OUTSTANDING", d.max_outstanding_per_session
        ),
        node_inflight_tasks=env_int(env, "LINGUA_NODE_INFLIGHT_TASKS", d.node_inflight_tasks),
        node_inflight_bytes=env_int(env, "LINGUA_NODE_INFLIGHT_BYTES", d.node_inflight_bytes),
        node_rate=RateLimit(
            per_s=env_float(env, "LINGUA_NODE_MSGS_PER_S", d.node_rate.per_s),
            burst=env_int(env, "LINGUA_NODE_MSGS_BURST", d.node_rate.burst),
        ),
        session_rate=RateLimit(
            per_s=env_float(env, "LINGUA_SESSION_MSGS_PER_S", d.session_rate.per_s),
            burst=env_int(env, "LINGUA_SESSION_MSGS_BURST", d.session_rate.burst),
        ),
        node_bytes=RateLimit(
            per_s=env_float(env, "LINGUA_NODE_BYTES_PER_S", d.node_bytes.per_s),
            burst=env_int(env, "LINGUA_NODE_BYTES_BURST", d.node_bytes.burst),
        ),
        session_bytes=RateLimit(
            per_s=env_float(env, "LINGUA_SESSION_BYTES_PER_S", d.session_bytes.per_s),
            burst=env_int(env, "LINGUA_SESSION_BYTES_BURST", d.session_bytes.burst),
        ),
        rate_strikes=env_int(env, "LINGUA_RATE_STRIKES", d.rate_strikes),
        max_connections_per_ip=env_int(
            env, "LINGUA_MAX_CONNECTIONS_PER_IP", d.max_connections_per_ip
        ),
    )
