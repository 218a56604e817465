"""Scenario "gateway": what one gateway process holds and how fast it talks.

1. Idle connections: sessions (handshake + session_init, then silence) are opened in
   bounded batches from this process until the target is held (10,000; `--quick` 500);
   the gateway's RSS before and after gives the memory per idle connection.
2. Messages per core: the idle sessions close; `--clients` sessions (default 64) each
   keep a window of client_heartbeats outstanding (every server_heartbeat releases the
   next) for `--saturation-seconds`; round trips over the gateway's own CPU time
   (/proc/<pid>/stat) give messages per second per core, whatever else shares the box.

The gateway runs with its per-connection rate limit effectively off (this measures the
gateway, not the limiter's verdict) and no per-address limit (all sockets come from
127.0.0.1). The soft fd limit is raised for this process, and the services inherit it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from bench.catalog import RunContext, scenario
from bench.gateway_load import (
    IdleReport,
    ThroughputReport,
    close_all,
    heartbeat_saturation,
    hold_idle,
)
from bench.gateway_proc import FdLimit, raise_fd_limit
from bench.options import BenchOptions
from bench.results import ScenarioResult, ms
from bench.stack_runner import error_counts, log_digest, running_stack
from tools.launcher.stack import StackConfig

log = logging.getLogger(__name__)

# DESIGN.md: one WebSocket message costs ~0.1-0.2 ms of CPU; 10 k idle connections ~170 MB.
IDLE_TARGET = 10_000
KB_PER_IDLE_REFERENCE = 17.0
FD_HEADROOM = 1_000
UNLIMITED = "1000000"


@dataclass(frozen=True)
class GatewayBenchConfig:
    idle: int
    open_batch: int
    sessions: int
    window: int
    duration_s: float

    @classmethod
    def from_options(cls, opts: BenchOptions) -> GatewayBenchConfig:
        quick = opts.quick
        return cls(
            idle=500 if quick else IDLE_TARGET,
            open_batch=100 if quick else 250,
            sessions=opts.clients if "clients" in opts.explicit else (8 if quick else 64),
            window=8,
            duration_s=(
                opts.saturation_s if "saturation_s" in opts.explicit else (2.0 if quick else 10.0)
            ),
        )


def stack_config(ctx: RunContext) -> StackConfig:
    return StackConfig(
        gateway_ws_ports=(0,),
        env={
            "LINGUA_MAX_CONNECTIONS_PER_IP": "0",
            "LINGUA_SESSION_MSGS_PER_S": UNLIMITED,
            "LINGUA_SESSION_MSGS_BURST": UNLIMITED,
        },
        log_format="json",
        log_level="WARNING",
        run_dir=ctx.run_dir,
    )


@scenario("gateway", "1 gateway: idle connections it holds (memory each), messages/s per core")
async def run_gateway(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    cfg = GatewayBenchConfig.from_options(opts)
    fds = raise_fd_limit(cfg.idle + cfg.sessions + FD_HEADROOM)
    idle_target = min(cfg.idle, fds.soft - cfg.sessions - FD_HEADROOM)
    exit_codes: dict[str, int | None] = {}
    held: list[Any] = []
    async with running_stack(stack_config(ctx), exit_codes) as stack:
        gateway = stack.gateways[0]
        assert gateway.process is not None
        url = stack.gateway_urls[0] + "/ws/session"
        pid = gateway.process.pid
        log.info("opening %d idle sessions", idle_target)
        try:
            idle = await hold_idle(url, pid, idle_target, cfg.open_batch, held)
        finally:
            await close_all(held, cfg.open_batch)
        log.info("heartbeat saturation: %d sessions x %d", cfg.sessions, cfg.window)
        throughput = await heartbeat_saturation(url, pid, cfg.sessions, cfg.window, cfg.duration_s)
    logs = log_digest(stack)
    result = build_result(cfg, fds, idle, throughput, logs)
    result.data.update(
        {
            "gateway_bench": asdict(cfg),
            "service_exit_codes": exit_codes,
            "service_logs": logs,
            "run_dir": str(ctx.run_dir),
        }
    )
    return result


def build_result(
    cfg: GatewayBenchConfig,
    fds: FdLimit,
    idle: IdleReport,
    throughput: ThroughputReport,
    logs: dict[str, Any],
) -> ScenarioResult:
    result = ScenarioResult()
    result.add_section(f"gateway: 1 replica, {idle.planned} idle sessions, fd limit {fds.soft}")
    result.add(
        "idle sessions held",
        f"{idle.opened} / {idle.planned}"
        + (f" (failed: {idle.failures})" if idle.failures else ""),
        f"{IDLE_TARGET:,}",
        idle.opened >= IDLE_TARGET,
    )
    result.add(
        "gateway RSS before / after",
        f"{idle.rss_before_kb / 1024:.0f} MB / {idle.rss_after_kb / 1024:.0f} MB",
    )
    result.add(
        "memory per idle session",
        f"{idle.kb_per_connection:.1f} KB",
        f"~{KB_PER_IDLE_REFERENCE:.0f} KB (DESIGN: 10 k ~ 170 MB)",
        idle.kb_per_connection <= 2 * KB_PER_IDLE_REFERENCE if idle.opened else None,
    )
    result.add(
        "session opens/s (handshake + session_init)",
        f"{idle.opens_per_s:.0f}/s, gateway {idle.cpu_s * 1000 / max(idle.opened, 1):.2f} ms "
        "CPU each",
    )
    result.add_section(
        f"heartbeat round trips: {throughput.sessions} sessions x {throughput.window} "
        f"in flight, {throughput.wall_s:.1f} s"
    )
    result.add("round trips/s (wall)", f"{throughput.per_s:.0f}/s")
    result.add("gateway CPU while saturated", f"{throughput.cores:.2f} cores")
    result.add(
        "messages/s per gateway core (in + out)",
        f"{throughput.messages_per_core_s:.0f}",
        "5,000-10,000 (0.1-0.2 ms/message)",
        throughput.messages_per_core_s >= 5_000 if throughput.round_trips else None,
    )
    lat = throughput.latency
    result.add(
        "round trip p50 / p99",
        f"{ms(lat.p50_ms)} / {ms(lat.p99_ms)}" if lat.count else "no samples",
    )
    errors = error_counts(logs)
    result.ok = idle.opened == idle.planned and throughput.round_trips > 0 and not errors
    if fds.raised_from is not None:
        result.notes.append(f"soft fd limit raised from {fds.raised_from} to {fds.soft}")
    if idle.planned < cfg.idle:
        result.notes.append(
            f"fd hard limit {fds.hard} allows only {idle.planned} of {cfg.idle} sessions"
        )
    if errors:
        result.notes.append(f"ERROR lines in service logs: {errors}")
    result.notes.append(
        "the bench client shares the machine with the gateway; messages per core divide "
        "by the gateway's own CPU time, so the client's share does not count against it"
    )
    result.data["gateway"] = {"idle": idle.as_dict(), "throughput": throughput.as_dict()}
    return result
