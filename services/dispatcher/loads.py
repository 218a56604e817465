"""What this replica last saw of each node's slots, to prefer the less loaded of two
candidates without reading every candidate's load from Redis on every job.

The numbers come from this replica's own reservations and releases (each Lua reply
carries the node's running count and maximum), so with several replicas they lag; that
only costs a choice, never correctness: slot_reserve decides, atomically, in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

# A node found not ready (degraded, draining, registering) is passed over this long.
NOT_READY_PAUSE_MS = 1_000


@dataclass
class _Load:
    running: int = 0
    max_jobs: int = 0
    not_ready_until_ms: int = 0


class LoadEstimates:
    def __init__(self) -> None:
        self._nodes: dict[str, _Load] = {}

    def seen(self, node_id: str, running: int, max_jobs: int) -> None:
        load = self._nodes.setdefault(node_id, _Load())
        load.running, load.max_jobs = running, max_jobs
        load.not_ready_until_ms = 0

    def released(self, node_id: str) -> None:
        load = self._nodes.get(node_id)
        if load is not None and load.running > 0:
            load.running -= 1

    def not_ready(self, node_id: str, now_ms: int) -> None:
        self._nodes.setdefault(node_id, _Load()).not_ready_until_ms = now_ms + NOT_READY_PAUSE_MS

    def ready(self, node_id: str) -> None:
        load = self._nodes.get(node_id)
        if load is not None:
            load.not_ready_until_ms = 0

    def forget(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    def usable(self, node_id: str, now_ms: int) -> bool:
        load = self._nodes.get(node_id)
        return load is None or load.not_ready_until_ms <= now_ms

    def utilisation(self, node_id: str) -> float:
        """0.0 for a node never seen (it is worth a try)."""
        load = self._nodes.get(node_id)
        if load is None or load.max_jobs <= 0:
            return 0.0
        return load.running / load.max_jobs
