"""The knobs of scenario "nodes": full size (10,000 nodes) and `--quick`, plus the few
command-line options it honours when given explicitly."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.options import BenchOptions

REGISTRY_HEARTBEAT_MS = 15_000  # what real agents use; offline after 3 intervals


@dataclass(frozen=True)
class NodesConfig:
    nodes: int = 10_000
    gateways: int = 2
    heartbeat_rate: float = 700.0  # WebSocket node_heartbeat/s over all nodes
    window_s: float = 30.0  # the heartbeat measurement window
    probe_nodes: int = 50  # gRPC heartbeat probe, during the window
    probe_rate: float = 50.0
    connect_concurrency: int = 200
    register_concurrency: int = 200
    paced_nodes: int = 500  # the last nodes register one at a time, at paced_rate
    paced_rate: float = 50.0
    settle_timeout_s: float = 60.0
    offline_timeout_s: float = 60.0  # after the sockets close, until all are offline
    find_calls: int = 5_000
    find_memory_calls: int = 20_000
    find_limit: int = 8
    key_samples: int = 5  # nodes whose keys get a MEMORY USAGE
    seed: int = 7

    @property
    def interval_s(self) -> float:
        return self.nodes / self.heartbeat_rate

    @property
    def bulk_nodes(self) -> int:
        return self.nodes - self.paced

    @property
    def paced(self) -> int:
        return min(self.paced_nodes, self.nodes // 2)

    @property
    def registry_heartbeat_s(self) -> float:
        """The services' heartbeat interval: the agents' 15 s, or longer when the nodes
        beat less often (so nothing is swept while it beats on schedule)."""
        ms = max(REGISTRY_HEARTBEAT_MS, math.ceil(self.interval_s * 1000))
        return ms / 1000

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            interval_s=self.interval_s,
            bulk_nodes=self.bulk_nodes,
            paced_nodes=self.paced,
            registry_heartbeat_s=self.registry_heartbeat_s,
        )
        return data


QUICK: dict[str, Any] = {
    "nodes": 300,
    "heartbeat_rate": 100.0,
    "window_s": 5.0,
    "probe_nodes": 5,
    "probe_rate": 20.0,
    "connect_concurrency": 100,
    "register_concurrency": 100,
    "paced_nodes": 50,
    "paced_rate": 25.0,
    "settle_timeout_s": 30.0,
    "offline_timeout_s": 20.0,
    "find_calls": 500,
    "find_memory_calls": 2_000,
    "key_samples": 3,
}

# BenchOptions field -> NodesConfig field, applied only when given explicitly.
FROM_OPTIONS = {
    "nodes": "nodes",
    "gateways": "gateways",
    "heartbeat_rate": "heartbeat_rate",
    "probe_s": "window_s",
    "probe_rate": "probe_rate",
    "probe_nodes": "probe_nodes",
}


def nodes_config(opts: BenchOptions) -> NodesConfig:
    config = NodesConfig()
    if opts.quick:
        config = replace(config, **QUICK)
    given = {FROM_OPTIONS[k]: getattr(opts, k) for k in opts.explicit if k in FROM_OPTIONS}
    config = replace(config, **given)
    if config.nodes < 2:
        raise ValueError("scenario nodes needs at least 2 nodes")
    if config.window_s <= 0:
        raise ValueError("scenario nodes needs a heartbeat window > 0 s")
    return config
