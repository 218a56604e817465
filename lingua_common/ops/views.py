"""Rows an operator reads: nodes joined with the pools they are in, pools per pair
with their free slots and waiting jobs, jobs. Pure functions of what the services
answered, so the `lingua` command and the console show the same thing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lingua.common.v1 import job_pb2, node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua_common.routes import Route, route_of_key

Pair = tuple[str, str]
NODE_STATUSES = ("registering", "ready", "degraded", "draining", "offline")
JOB_STATES = ("created", "pending", "dispatched", "accepted", "completed", "failed", "cancelled")
TRACE_PLACEHOLDER = "{trace_id}"


def status_name(status: int) -> str:
    return node_pb2.NodeStatus.Name(status).removeprefix("NODE_STATUS_").lower()  # type: ignore[arg-type]


def state_name(state: int) -> str:
    return job_pb2.JobState.Name(state).removeprefix("JOB_STATE_").lower()  # type: ignore[arg-type]


def state_value(name: str) -> int:
    """A job state by its name (`completed`, …); ValueError naming the choices."""
    if name not in JOB_STATES:
        raise ValueError(f"unknown job state {name!r} (one of: {', '.join(JOB_STATES)})")
    value: int = job_pb2.JobState.Value("JOB_STATE_" + name.upper())
    return value


def pair_text(pair: Pair, two_way: bool = False) -> str:
    return f"{pair[0]}{'↔' if two_way else '→'}{pair[1]}"


def trace_link(trace_url: str, trace_id: str) -> str:
    """LINGUA_TRACE_URL with {trace_id} filled in (or the id appended), "" without either."""
    if not trace_url or not trace_id:
        return ""
    if TRACE_PLACEHOLDER in trace_url:
        return trace_url.replace(TRACE_PLACEHOLDER, trace_id)
    return trace_url.rstrip("/") + "/" + trace_id


# --- nodes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRow:
    node_id: str
    status: str
    status_reason: str
    pairs: tuple[Pair, ...]
    running: int
    max_jobs: int
    gateway: str
    last_heartbeat_ms: int
    # Why the node takes no new job now ("" when it does).
    idle_reason: str

    def heartbeat_age_s(self, now_ms: int) -> float | None:
        if not self.last_heartbeat_ms:
            return None
        return max(0.0, (now_ms - self.last_heartbeat_ms) / 1000)

    def to_json(self, now_ms: int) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "status": self.status,
            "status_reason": self.status_reason,
            "pairs": [{"src": s, "tgt": t} for s, t in self.pairs],
            "running": self.running,
            "max_jobs": self.max_jobs,
            "gateway": self.gateway,
            "last_heartbeat_ms": self.last_heartbeat_ms,
            "heartbeat_age_s": self.heartbeat_age_s(now_ms),
            "serving": not self.idle_reason,
            "idle_reason": self.idle_reason,
        }


def pairs_by_node(pools: Iterable[pool_pb.Pool]) -> dict[str, set[Pair]]:
    found: dict[str, set[Pair]] = defaultdict(set)
    for pool in pools:
        for node_id in pool.node_ids:
            found[node_id].add((pool.pair.src, pool.pair.tgt))
    return found


def idle_reason(status: str, reason: str, pairs: set[Pair], node: node_pb2.Node) -> str:
    """Why a node gets no new job, in the words an operator searches for."""
    if node.not_serving and status != "offline":
        # Registered, but missing what every job needs (the registry's not_serving).
        return f"not_serving: {node.not_serving}"
    if status != "ready":
        return f"{status}: {reason}" if reason else status
    if not pairs:
        return reason or "in no pool: no language pair with ready services"
    if not node.gateway_id:
        return "no gateway holds its socket"
    if node.max_jobs and node.running_jobs >= node.max_jobs:
        return f"full ({node.running_jobs}/{node.max_jobs} slots)"
    return ""


def node_rows(nodes: Iterable[node_pb2.Node], pools: Iterable[pool_pb.Pool]) -> list[NodeRow]:
    pairs = pairs_by_node(pools)
    rows = []
    for node in nodes:
        status = status_name(node.status)
        own = pairs.get(node.node_id, set())
        rows.append(
            NodeRow(
                node_id=node.node_id,
                status=status,
                status_reason=node.status_reason,
                pairs=tuple(sorted(own)),
                running=node.running_jobs,
                max_jobs=node.max_jobs,
                gateway=node.gateway_id,
                last_heartbeat_ms=node.last_heartbeat_ms,
                idle_reason=idle_reason(status, node.status_reason, own, node),
            )
        )
    return sorted(rows, key=lambda r: (NODE_STATUSES.index(r.status), r.node_id))


def status_counts(rows: Iterable[NodeRow]) -> dict[str, int]:
    counts = Counter(row.status for row in rows)
    return {status: counts.get(status, 0) for status in NODE_STATUSES}


# --- pools ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolRow:
    pair: Pair
    two_way: bool
    shards: int
    nodes: int
    # Nodes that take jobs now (ready, indexed, held by a gateway).
    ready_nodes: int
    running: int
    capacity: int
    free_slots: int
    # Jobs waiting for a slot of this pair (None: unknown, no dispatcher metrics).
    waiting: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "src": self.pair[0],
            "tgt": self.pair[1],
            "two_way": self.two_way,
            "pair": pair_text(self.pair, self.two_way),
            "shards": self.shards,
            "nodes": self.nodes,
            "ready_nodes": self.ready_nodes,
            "running": self.running,
            "capacity": self.capacity,
            "free_slots": self.free_slots,
            "waiting": self.waiting,
        }


def _slots(members: Iterable[str], nodes: Mapping[str, node_pb2.Node]) -> tuple[int, int, int, int]:
    """(ready nodes, running, capacity, free) over the members that take jobs."""
    ready = running = capacity = free = 0
    for node_id in members:
        node = nodes.get(node_id)
        if node is None or node.status != node_pb2.NODE_STATUS_READY or not node.gateway_id:
            continue
        ready += 1
        running += node.running_jobs
        capacity += node.max_jobs
        free += max(0, node.max_jobs - node.running_jobs)
    return ready, running, capacity, free


def pool_rows(
    pools: Iterable[pool_pb.Pool],
    nodes: Iterable[node_pb2.Node],
    waiting: Mapping[Pair, int] | None,
) -> list[PoolRow]:
    """One row per directed pair (its shards together), then one per two-way pair (nodes
    that serve both directions). `waiting` None: the waiting column is unknown."""
    by_id = {node.node_id: node for node in nodes}
    members: dict[Pair, set[str]] = defaultdict(set)
    shards: Counter[Pair] = Counter()
    for pool in pools:
        pair = (pool.pair.src, pool.pair.tgt)
        members[pair].update(pool.node_ids)
        shards[pair] += 1
    rows = []
    listed: set[Pair] = set()  # two-way waiting lines already shown on their pair's row
    for pair in sorted(members):
        ready, running, capacity, free = _slots(members[pair], by_id)
        rows.append(
            PoolRow(
                pair=pair,
                two_way=False,
                shards=shards[pair],
                nodes=len(members[pair]),
                ready_nodes=ready,
                running=running,
                capacity=capacity,
                free_slots=free,
                waiting=None if waiting is None else waiting.get(pair, 0),
            )
        )
    for a, b in sorted(members):
        if a < b and (b, a) in members:
            both = members[(a, b)] & members[(b, a)]
            if not both:
                continue
            ready, running, capacity, free = _slots(both, by_id)
            # Two-way jobs wait in lines of their own (lingua_common/routes.py), one per
            # spelling of the pair (lang_a, lang_b as the clients gave them).
            lines = {Route(a, b, both_ways=True).key, Route(b, a, both_ways=True).key}
            rows.append(
                PoolRow(
                    pair=(a, b),
                    two_way=True,
                    shards=0,
                    nodes=len(both),
                    ready_nodes=ready,
                    running=running,
                    capacity=capacity,
                    free_slots=free,
                    waiting=None if waiting is None else sum(waiting.get(k, 0) for k in lines),
                )
            )
            listed |= lines
    # Waiting lines of pairs no pool serves any more still count.
    if waiting:
        for key in sorted(set(waiting) - set(members) - listed):
            route = route_of_key(*key)
            pair, two_way = (route.src, route.tgt), route.both_ways
            rows.append(PoolRow(pair, two_way, 0, 0, 0, 0, 0, 0, waiting[key]))
    return rows


# --- jobs ----------------------------------------------------------------------------------


def job_json(job: job_pb2.Job, trace_url: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "job_id": job.job_id,
        "request_id": job.request_id,
        "state": state_name(job.state),
        "src": job.pair.src,
        "tgt": job.pair.tgt,
        "node_id": job.node_id,
        "attempt": job.attempt_id,
        "session_id": job.session_id,
        "utterance_index": job.utterance_index,
        "tenant_id": job.tenant_id,
        "trace_id": job.trace_id,
        "trace_url": trace_link(trace_url, job.trace_id),
        "created_at_ms": job.created_at_ms,
        "updated_at_ms": job.updated_at_ms,
        "error": None,
        "result": None,
    }
    if job.HasField("error") and job.error.code:
        out["error"] = {"code": job.error.code, "message": job.error.message}
    if job.HasField("result"):
        result = job.result
        out["result"] = {
            "success": result.success,
            "text_asr": result.text_asr,
            "text_translated": result.text_translated,
            "processing_time_ms": result.processing_time_ms
            if result.HasField("processing_time_ms")
            else None,
        }
    return out
