"""Gateway settings, built from the environment once in main."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import env_int, env_str
from lingua_common.settings import RedisSettings, ServerSettings
from services.gateway.cutting import CutSettings


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 1024 * 1024
    max_audio_bytes: int = 512 * 1024
    send_queue: int = 256
    # Accepted utterances of one session still waiting for their answer.
    max_outstanding_per_session: int = 64


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
    tick_ms: int = 50
    drain_timeout_ms: int = 5_000
    rpc_timeout_ms: int = 5_000
    cutting: CutSettings = field(default_factory=CutSettings)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GatewaySettings:
        default_id = f"gw-{socket.gethostname()}-{os.getpid()}"
        return cls(
            server=ServerSettings.from_env(env, default_port=50054),
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
            drain_timeout_ms=env_int(env, "LINGUA_DRAIN_TIMEOUT_MS", cls.drain_timeout_ms),
            cutting=CutSettings(
                pause_ms=env_int(env, "LINGUA_CUT_PAUSE_MS", 3000),
                max_duration_ms=env_int(env, "LINGUA_CUT_MAX_DURATION_MS", 10_000),
                max_bytes=env_int(env, "LINGUA_CUT_MAX_BYTES", 500 * 1024),
                min_pause_cut_ms=env_int(env, "LINGUA_CUT_MIN_PAUSE_CUT_MS", 500),
            ),
            limits=Limits(
                max_frame_bytes=env_int(env, "LINGUA_MAX_FRAME_BYTES", 1024 * 1024),
                max_audio_bytes=env_int(env, "LINGUA_MAX_AUDIO_BYTES", 512 * 1024),
                send_queue=env_int(env, "LINGUA_SEND_QUEUE", 256),
                max_outstanding_per_session=env_int(env, "LINGUA_MAX_OUTSTANDING", 64),
            ),
        )
