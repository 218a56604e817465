"""Every Redis key name, in one place.

Keys that a Lua script touches together share one hash tag ({node:ID}, {job:ID},
{session:ID}) so every script runs on Redis Cluster. Keys are prefixed and versioned.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "lingua:v1"

    # --- nodes (registry) -------------------------------------------------------------
    def node(self, node_id: str) -> str:
        """Hash: the node's record (epoch, status, descriptor, load, max_jobs, owner)."""
        return f"{self.prefix}:{{node:{node_id}}}:rec"

    def node_inflight(self, node_id: str) -> str:
        """Hash job_id -> attempt: the node's reserved slots; HLEN is its running count."""
        return f"{self.prefix}:{{node:{node_id}}}:inflight"

    def node_owner(self, node_id: str) -> str:
        """String with TTL: 'gateway_id epoch' of the replica holding the node's socket."""
        return f"{self.prefix}:{{node:{node_id}}}:owner"

    def node_history(self, node_id: str) -> str:
        """List, newest first: the node's status transitions with time and reason."""
        return f"{self.prefix}:{{node:{node_id}}}:history"

    def nodes_all(self) -> str:
        """Set of every known node id."""
        return f"{self.prefix}:nodes:all"

    def nodes_last_seen(self) -> str:
        """Sorted set node_id -> last heartbeat (server receive time, ms)."""
        return f"{self.prefix}:nodes:last_seen"

    def sweep_lock(self) -> str:
        """String with a short TTL: one registry replica sweeps per interval."""
        return f"{self.prefix}:nodes:sweep_lock"

    def node_events(self) -> str:
        """Stream of node lifecycle events (registered, status changes, offline)."""
        return f"{self.prefix}:events:nodes"

    # --- pool index ---------------------------------------------------------------------
    def index_nodes(self) -> str:
        """Hash node_id -> the node's indexed pairs and ready service types (JSON)."""
        return f"{self.prefix}:{{index}}:nodes"

    def index_seqs(self) -> str:
        """Hash node_id -> the registry's index_seq last applied (refuses older updates)."""
        return f"{self.prefix}:{{index}}:seqs"

    def index_version(self) -> str:
        """Counter: version of the language index; bumped on every change."""
        return f"{self.prefix}:{{index}}:version"

    def index_changes(self) -> str:
        """Stream: the index change feed (one entry per node whose entry changed)."""
        return f"{self.prefix}:{{index}}:changes"

    # --- jobs (dispatcher) ----------------------------------------------------------------
    def job(self, job_id: str) -> str:
        """Hash: the job record. The job id derives from the request id (idempotency)."""
        return f"{self.prefix}:{{job:{job_id}}}:rec"

    def job_events(self, job_id: str) -> str:
        """Stream: events of one job (for WatchJob)."""
        return f"{self.prefix}:{{job:{job_id}}}:events"

    def job_events_pattern(self) -> str:
        """PSUBSCRIBE pattern of every job's event stream name: a watched job's scripts
        PUBLISH on that name when they add an event (job_watch.lua)."""
        return f"{_glob_escaped(self.prefix)}:{{job:*}}:events"

    def job_id_of_events(self, stream: str) -> str | None:
        """The job id in a job event stream's name (None if it is not one)."""
        head, tail = f"{self.prefix}:{{job:", "}:events"
        if stream.startswith(head) and stream.endswith(tail) and len(stream) > len(head + tail):
            return stream[len(head) : -len(tail)]
        return None

    def watch_sentinel(self, hub_id: str) -> str:
        """String with TTL, one per dispatcher replica's watch hub, refreshed every
        second or so: gone means Redis lost its data (a restart without persistence, a
        failover to an empty replica, FLUSHALL)."""
        return f"{self.prefix}:watch:sentinel:{hub_id}"

    def timeouts(self, bucket: int) -> str:
        """Sorted set job_id -> when it is due (deadline, reservation TTL, pending wait).
        Sharded into buckets so no single slot carries every job."""
        return f"{self.prefix}:{{timeouts:{bucket}}}"

    def pending(self, src: str, tgt: str) -> str:
        """Sorted set job_id -> enqueue time: jobs of one pair waiting for capacity."""
        return f"{self.prefix}:{{pending:{src}:{tgt}}}:jobs"

    def pending_leases(self, src: str, tgt: str) -> str:
        """Sorted set "since:job_id" -> lease end: jobs of one pair taken off the queue by
        a dispatcher that is trying to place them; back in line if it dies meanwhile."""
        return f"{self.prefix}:{{pending:{src}:{tgt}}}:leased"

    def pending_pairs(self) -> str:
        """Set of "src tgt" pairs whose pending queue may be non-empty."""
        return f"{self.prefix}:pending:pairs"

    def jobs_recent(self) -> str:
        """Sorted set job_id -> created ms: every job within retention (for listings)."""
        return f"{self.prefix}:jobs:recent"

    def tenant_jobs(self, tenant_id: str) -> str:
        """Sorted set job_id -> created ms: one tenant's jobs within retention (the team
        API's ListJobs); trimmed as jobs are added, gone a retention after the last."""
        return f"{self.prefix}:{{tenant:{tenant_id}}}:jobs"

    def session_jobs(self, session_id: str) -> str:
        """Sorted set job_id -> utterance index: the jobs of one session (for listing)."""
        return f"{self.prefix}:{{session:{session_id}}}:jobs"

    # --- sessions and gateways --------------------------------------------------------------
    def session(self, session_id: str) -> str:
        """Hash: session state (pair, preferred pool, owner gateway, version)."""
        return f"{self.prefix}:{{session:{session_id}}}:rec"

    def session_owner(self, session_id: str) -> str:
        """String with TTL: gateway id of the replica holding the session's socket."""
        return f"{self.prefix}:{{session:{session_id}}}:owner"

    def session_group(self, session_id: str) -> str:
        """Hash: the session's open utterance group (id, created, playback times, parts)."""
        return f"{self.prefix}:{{session:{session_id}}}:group"

    def session_channel(self) -> str:
        """Pub/sub channel announcing session state changes ("<key> <version>")."""
        return f"{self.prefix}:sessions:changed"

    def generation(self, sentinel: int) -> str:
        """String: the data generation (generation.py), one sentinel per hash slot group."""
        return f"{self.prefix}:{{generation:{sentinel}}}"

    def dispatchers(self) -> str:
        """Sorted set "replica_id address" -> expiry (ms): the dispatcher replicas every
        gateway links to (each refreshes its own entry)."""
        return f"{self.prefix}:dispatchers"

    def gateway(self, gateway_id: str) -> str:
        """String with TTL: the gateway replica's internal gRPC address."""
        return f"{self.prefix}:gateway:{gateway_id}"

    # --- operator tools (metrics board, console) --------------------------------------------
    def metrics_board(self) -> str:
        """Sorted set "service replica" -> when that replica last published its metrics."""
        return f"{self.prefix}:metrics:board"

    def metrics_snapshot(self, service: str, replica: str) -> str:
        """String with TTL: one replica's latest Prometheus text (its lingua_* families)."""
        return f"{self.prefix}:metrics:snapshot:{service}:{replica}"

    def console_history(self) -> str:
        """List, newest first: the console's chart points (one per sampling interval)."""
        return f"{self.prefix}:console:history"

    def console_totals(self) -> str:
        """String: the counters per replica behind the newest chart point (for the next
        point's increase, whichever console replica computes it)."""
        return f"{self.prefix}:console:totals"

    def console_sample_slot(self, slot: int) -> str:
        """String with TTL: the console replica that samples this interval (one per slot)."""
        return f"{self.prefix}:console:slot:{slot}"


def _glob_escaped(text: str) -> str:
    """`text` matched literally by a Redis glob pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
