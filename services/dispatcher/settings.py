"""Dispatcher settings, built from the environment once in main."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from lingua_common.env import env_int, env_str
from lingua_common.settings import RedisSettings, ServerSettings


@dataclass(frozen=True)
class DispatcherSettings:
    server: ServerSettings = field(default_factory=ServerSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    pool_address: str = "127.0.0.1:50052"
    # The team API (DispatcherService) is served on its own port, apart from the
    # service-to-service API on the main gRPC port (0: any free port).
    team_port: int = 0
    # This replica's id, and the host gateways use to reach its gRPC server: replicas
    # advertise themselves in Redis and every gateway links to each of them.
    replica_id: str = ""
    advertise_host: str = "127.0.0.1"
    # host:port gateways dial instead (a proxy or NAT in between); "" : advertise_host
    # and the bound gRPC port.
    advertise_address: str = ""
    advertise_ttl_ms: int = 10_000
    # A live job record outlives any sane job; a terminal one is kept for inspection.
    job_ttl_ms: int = 3600 * 1000
    job_retention_ms: int = 600 * 1000
    candidate_sample: int = 8
    selection_rounds: int = 3
    # A dispatched job must be confirmed (its node took it) within this, or it is retried.
    reservation_ttl_ms: int = 3_000
    # A node's socket closed (or the node registered again): the attempts that
    # connection held are given up after this grace — its gateway's last reports,
    # queued behind the news of the loss, arrive first.
    lost_connection_grace_ms: int = 1_000
    # A job's result deadline per attempt, and how many attempts it gets.
    job_timeout_ms: int = 15_000
    max_attempts: int = 3
    # A job's own deadline, from its creation: its answer is delivered (again and again,
    # should a gateway or a replica fail) until then. Match the gateways' answer timeout.
    job_deadline_ms: int = 60_000
    # An answer not acknowledged by the session's gateway this long after it was sent is
    # sent again (by whichever replica's timer sweep gets to it first).
    answer_retry_ms: int = 5_000
    # Messages (and bytes) waiting for one gateway: a full outbox refuses more deliveries
    # (assignments then go to nodes on other gateways, answers wait for their timer).
    gateway_outbox_items: int = 20_000
    gateway_outbox_bytes: int = 256 * 1024 * 1024
    # How long an outbox of a gateway with no link to this replica is kept before it is
    # dropped (if the gateway is no longer advertised).
    gateway_away_ms: int = 30_000
    # Waiting for capacity: bounded in time and per pair in length.
    pending_timeout_ms: int = 10_000
    pending_max_per_pair: int = 1_000
    # A new job for a pair no node serves waits this long before NO_AVAILABLE_NODE: the
    # index reaches the dispatcher a moment after a node's registration is acknowledged
    # (and nodes come back after a restart), so "nobody" is not final at once.
    no_node_wait_ms: int = 2_000
    sweep_interval_ms: int = 100
    sweep_lease_ms: int = 5_000
    pending_poll_ms: int = 500
    # A waiting job taken off its line by a replica that then died is back in line after
    # this; longer than one placement (a delivery gives up after 2 s).
    pending_lease_ms: int = 3_000
    # How often every reserved slot is checked against its job (leaks freed on the 2nd look).
    slot_audit_interval_ms: int = 15_000
    affinity_cache_size: int = 50_000
    shard_size: int = 100
    # WatchJob (watch_hub.py): watchers served at once; how often Redis is checked for
    # lost data (one command) and every watched job for a lost announcement (one each).
    max_watchers: int = 10_000
    watch_loss_check_ms: int = 1_000
    watch_sweep_ms: int = 10_000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DispatcherSettings:
        return cls(
            server=ServerSettings.from_env(env, default_port=50053, default_metrics_port=9103),
            redis=RedisSettings.from_env(env),
            pool_address=env_str(env, "LINGUA_POOL_ADDRESS", cls.pool_address),
            team_port=env_int(env, "LINGUA_TEAM_PORT", 50055),
            replica_id=env_str(
                env, "LINGUA_DISPATCHER_ID", f"disp-{socket.gethostname()}-{os.getpid()}"
            ),
            advertise_host=env_str(env, "LINGUA_ADVERTISE_HOST", cls.advertise_host),
            advertise_address=env_str(env, "LINGUA_ADVERTISE_ADDRESS", ""),
            job_ttl_ms=env_int(env, "LINGUA_JOB_TTL_MS", cls.job_ttl_ms),
            job_retention_ms=env_int(env, "LINGUA_JOB_RETENTION_MS", cls.job_retention_ms),
            candidate_sample=env_int(env, "LINGUA_CANDIDATE_SAMPLE", cls.candidate_sample),
            selection_rounds=env_int(env, "LINGUA_SELECTION_ROUNDS", cls.selection_rounds),
            reservation_ttl_ms=env_int(env, "LINGUA_RESERVATION_TTL_MS", cls.reservation_ttl_ms),
            lost_connection_grace_ms=env_int(
                env, "LINGUA_LOST_CONNECTION_GRACE_MS", cls.lost_connection_grace_ms
            ),
            job_timeout_ms=env_int(env, "LINGUA_JOB_TIMEOUT_MS", cls.job_timeout_ms),
            max_attempts=env_int(env, "LINGUA_MAX_ATTEMPTS", cls.max_attempts),
            job_deadline_ms=env_int(env, "LINGUA_ANSWER_TIMEOUT_MS", cls.job_deadline_ms),
            answer_retry_ms=env_int(env, "LINGUA_ANSWER_RETRY_MS", cls.answer_retry_ms),
            gateway_outbox_items=env_int(
                env, "LINGUA_GATEWAY_OUTBOX_ITEMS", cls.gateway_outbox_items
            ),
            gateway_outbox_bytes=env_int(
                env, "LINGUA_GATEWAY_OUTBOX_BYTES", cls.gateway_outbox_bytes
            ),
            pending_timeout_ms=env_int(env, "LINGUA_PENDING_TIMEOUT_MS", cls.pending_timeout_ms),
            pending_max_per_pair=env_int(
                env, "LINGUA_PENDING_MAX_PER_PAIR", cls.pending_max_per_pair
            ),
            no_node_wait_ms=env_int(env, "LINGUA_NO_NODE_WAIT_MS", cls.no_node_wait_ms),
            pending_lease_ms=env_int(env, "LINGUA_PENDING_LEASE_MS", cls.pending_lease_ms),
            shard_size=env_int(env, "LINGUA_POOL_SHARD_SIZE", cls.shard_size),
            slot_audit_interval_ms=env_int(
                env, "LINGUA_SLOT_AUDIT_INTERVAL_MS", cls.slot_audit_interval_ms
            ),
            max_watchers=env_int(env, "LINGUA_MAX_WATCHERS", cls.max_watchers),
            watch_loss_check_ms=env_int(env, "LINGUA_WATCH_LOSS_CHECK_MS", cls.watch_loss_check_ms),
            watch_sweep_ms=env_int(env, "LINGUA_WATCH_SWEEP_MS", cls.watch_sweep_ms),
        )
