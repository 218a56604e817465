"""What scenario "nodes" measured, phase by phase (filled in by bench.scenarios.nodes,
turned into rows and JSON by bench.scenarios.nodes_rows)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.beat_delivery import Delivery
from bench.beat_scheduler import WindowReport
from bench.find_probe import FindReport
from bench.heartbeat_probe import ProbeReport
from bench.node_swarm import PhaseReport
from bench.proc_stats import ProcSample
from bench.redis_stats import MemoryInfo
from bench.scenarios.nodes_config import NodesConfig
from bench.scheduler_views import PoolsView, StatusCount
from bench.service_histograms import Buckets


@dataclass
class Settle:
    view: PoolsView | None = None
    settled: bool = False
    waited_s: float = 0.0


@dataclass
class NodesRun:
    """Everything measured; nodes_rows turns it into the table and the JSON."""

    config: NodesConfig
    connect: PhaseReport = field(default_factory=PhaseReport)
    bulk: PhaseReport = field(default_factory=PhaseReport)
    paced: PhaseReport = field(default_factory=PhaseReport)
    bulk_settle: Settle = field(default_factory=Settle)  # index caught up with the burst
    settle: Settle = field(default_factory=Settle)
    memory: dict[str, MemoryInfo] = field(default_factory=dict)
    procs: dict[str, ProcSample] = field(default_factory=dict)
    connections_per_gateway: dict[str, int] = field(default_factory=dict)
    key_usage: dict[str, list[int | None]] = field(default_factory=dict)
    shared_usage: dict[str, int | None] = field(default_factory=dict)
    registered: int = 0
    window: WindowReport | None = None
    window_cpu_s: dict[str, float | None] = field(default_factory=dict)
    window_machine_busy_s: float | None = None  # all processes, all cores
    load_after_window: list[float] = field(default_factory=list)
    probe: ProbeReport = field(default_factory=ProbeReport)
    # The registry's own histograms over the same calls (its receive to its answer).
    probe_server: Buckets = field(default_factory=Buckets)
    register_server: Buckets = field(default_factory=Buckets)
    probe_settle: Settle = field(default_factory=Settle)
    index_before: int = 0
    index_after: int = 0
    redis_latency: dict[str, dict[str, float]] = field(default_factory=dict)
    redis_commands: dict[str, dict[str, float]] = field(default_factory=dict)
    delivery: Delivery = field(default_factory=Delivery)
    find_grpc: FindReport = field(default_factory=FindReport)
    find_memory: FindReport = field(default_factory=FindReport)  # under the heartbeat load
    find_memory_quiet: FindReport = field(default_factory=FindReport)  # stack stopped
    shards_match: bool = False
    statuses: StatusCount = field(default_factory=StatusCount)
    ready_filtered: int = 0
    lost: int = 0
    node_errors: dict[str, int] = field(default_factory=dict)
    other_messages: int = 0
    heartbeats_sent: int = 0
    heartbeats_failed: int = 0
    heartbeats_skipped: int = 0  # overdue by more than MAX_LAG_S: this process stalled
    offline_left: int | None = None  # nodes still not offline when the wait ended
    offline_s: float = 0.0

    def redis_bytes_per_node(self, phase: str) -> float | None:
        """Redis memory the registered nodes added, per node, at a sampled phase."""
        before, after = self.memory.get("empty"), self.memory.get(phase)
        if before is None or after is None or not self.registered:
            return None
        return (after.used_memory - before.used_memory) / self.registered
