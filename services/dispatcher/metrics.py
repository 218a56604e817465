"""The dispatcher's Prometheus metrics.

Counters count where an atomic Lua transition says something happened (this call
created the job, finished it, abandoned its attempt), so sums over dispatcher replicas
are exact. Gauges of state that lives in Redis (jobs in flight, pending depth) are read
from Redis when scraped, never derived from the counters.
"""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex
from lingua_common.metrics.service import LATENCY_BUCKETS_S
from lingua_common.redis_client import RedisClient, run_pipeline
from services.dispatcher.model import JobState, Reservation

# placement.Outcome values (strings here: placement imports the store, which imports this).
PLACEMENT_OUTCOMES = ("dispatched", "no_capacity", "no_node", "superseded")
# What slot_reserve said -> outcome label (a slot this attempt held already counts as
# reserved: the job has it).
RESERVE_OUTCOMES = {
    Reservation.RESERVED: "reserved",
    Reservation.HELD: "reserved",
    Reservation.FULL: "node_full",
    Reservation.NOT_READY: "node_not_ready",
    Reservation.CONFLICT: "conflict",
}
# Why an attempt was given up (job_abandon's reason code) -> failover reason label.
FAILOVER_REASONS = {"JOB_TIMEOUT": "timeout", "NODE_UNAVAILABLE": "node_lost"}
UNDELIVERABLE = "gateway_lost"  # the assignment never reached the node's socket
FINAL_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)

# A scrape reads at most this many pending queues (one per language pair).
MAX_PENDING_PAIRS = 1_000


class ReplicaView(Protocol):
    """What the gauges read of the index replica (index_replica.IndexReplica)."""

    index: LanguageIndex
    synced: bool


class DispatcherMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self._registry = registry
        self._created = Counter(
            "lingua_jobs_created",
            "Jobs created (a repeated request id counts once)",
            registry=registry,
        )
        finished = Counter(
            "lingua_jobs_finished", "Jobs that reached a final state", ["state"], registry=registry
        )
        self._finished = {state: finished.labels(state.value) for state in FINAL_STATES}
        self._no_available_node = Counter(
            "lingua_no_available_node",
            "Jobs failed with NO_AVAILABLE_NODE (nobody served the pair, or no slot in time)",
            registry=registry,
        )
        reservations = Counter(
            "lingua_reservations",
            "Slot reservations on a node, by outcome",
            ["outcome"],
            registry=registry,
        )
        self._reservations = {
            reservation: reservations.labels(outcome)
            for reservation, outcome in RESERVE_OUTCOMES.items()
        }
        placements = Counter(
            "lingua_placements",
            "Placements of one job attempt (candidates tried until one took it), by outcome",
            ["outcome"],
            registry=registry,
        )
        self._placements = {outcome: placements.labels(outcome) for outcome in PLACEMENT_OUTCOMES}
        failovers = Counter(
            "lingua_failovers",
            "Job attempts given up and moved on (timeout, node lost, gateway lost)",
            ["reason"],
            registry=registry,
        )
        self._failovers = {
            reason: failovers.labels(reason)
            for reason in (*FAILOVER_REASONS.values(), UNDELIVERABLE, "other")
        }
        self.dispatch_latency = Histogram(
            "lingua_dispatch_latency_seconds",
            "From job creation to its job_assign taken by the node's gateway (any attempt)",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.result_latency = Histogram(
            "lingua_result_latency_seconds",
            "From a node's result reaching the dispatcher to the session's gateway answering",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.jobs_in_flight = Gauge(
            "lingua_jobs_in_flight",
            "Jobs not finished yet (created, pending, dispatched, accepted), or finished "
            "with the answer not yet taken by the session's gateway, from Redis",
            registry=registry,
        )
        self.pending_jobs = Gauge(
            "lingua_pending_jobs",
            "Jobs waiting for a free slot, all pairs, from Redis",
            registry=registry,
        )
        self.pending_jobs_by_pair = Gauge(
            "lingua_pending_jobs_by_pair",
            "Jobs waiting for a free slot per directed pair (pairs with a line), from Redis",
            ["src_lang", "tgt_lang"],
            registry=registry,
        )

    def watch_index_replica(self, replica: ReplicaView) -> None:
        """Gauges of this replica's copy of the pool index, read when scraped: how far
        it is behind the pool is what an operator asks when placements look wrong."""
        Gauge(
            "lingua_index_replica_nodes",
            "Nodes this dispatcher replica can place jobs on: in its copy of the pool "
            "index with at least one service ready",
            registry=self._registry,
        ).set_function(lambda: sum(1 for _, entry in replica.index.entries() if entry.ready))
        Gauge(
            "lingua_index_replica_version",
            "The pool index version this dispatcher replica's copy has applied",
            registry=self._registry,
        ).set_function(lambda: replica.index.version)
        Gauge(
            "lingua_index_replica_synced",
            "1 while this dispatcher replica's copy of the pool index follows the feed",
            registry=self._registry,
        ).set_function(lambda: 1 if replica.synced else 0)

    def created(self) -> None:
        self._created.inc()

    def finished(self, state: JobState, error_code: str) -> None:
        self._finished[state].inc()
        if error_code == "NO_AVAILABLE_NODE":
            self._no_available_node.inc()

    def reserved(self, outcome: Reservation) -> None:
        self._reservations[outcome].inc()

    def placed(self, outcome: str) -> None:
        self._placements[outcome].inc()

    def failover(self, reason: str, *, counts: bool) -> None:
        label = FAILOVER_REASONS.get(reason, "other") if counts else UNDELIVERABLE
        self._failovers[label].inc()


class JobGauges:
    """Sets the Redis-backed gauges at scrape time, in two bounded pipelines (each key
    on its own slot, so it runs on a cluster too)."""

    def __init__(
        self, client: RedisClient, keys: Keys, metrics: DispatcherMetrics, timeout_buckets: int
    ) -> None:
        self._r = client
        self._keys = keys
        self._metrics = metrics
        self._buckets = timeout_buckets

    async def refresh(self) -> None:
        # Every live job has exactly one timeout entry (deadline, reservation or pending
        # wait) and a finished one loses it, so the buckets' sizes add up to the jobs
        # in flight.
        def first(pipe: Any) -> None:
            for bucket in range(self._buckets):
                pipe.zcard(self._keys.timeouts(bucket))
            pipe.smembers(self._keys.pending_pairs())

        *sizes, members = await run_pipeline(self._r, first)
        pairs = sorted(m.decode() for m in members)[:MAX_PENDING_PAIRS]

        def depths(pipe: Any) -> None:
            for pair in pairs:
                src, _, tgt = pair.partition(" ")
                pipe.zcard(self._keys.pending(src, tgt))
                pipe.zcard(self._keys.pending_leases(src, tgt))  # taken, not yet placed

        waiting = [int(n) for n in await run_pipeline(self._r, depths)] if pairs else []
        self._metrics.jobs_in_flight.set(sum(int(n) for n in sizes))
        self._metrics.pending_jobs.set(sum(waiting))
        # Pairs whose line is gone leave the gauge (the set forgets them once empty).
        self._metrics.pending_jobs_by_pair.clear()
        for i, pair in enumerate(pairs):
            src, _, tgt = pair.partition(" ")
            by_pair = self._metrics.pending_jobs_by_pair.labels(src, tgt)
            by_pair.set(waiting[2 * i] + waiting[2 * i + 1])
