"""The gateway's Prometheus metrics: its open WebSockets by kind, and node heartbeats
that came before their node's registration (ignored)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

CONNECTION_KINDS = ("node", "session")


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        connections = Gauge(
            "lingua_connections",
            "Open WebSockets on this gateway replica, by kind (node, session)",
            ["kind"],
            registry=registry,
        )
        # Children made once: opening and closing a socket only moves a number.
        self.connections = {kind: connections.labels(kind) for kind in CONNECTION_KINDS}
        self.heartbeats_before_register = Counter(
            "lingua_node_heartbeats_before_register",
            "node_heartbeat messages on a socket not registered yet (a reconnecting agent's "
            "timer outlives its socket); ignored",
            registry=registry,
        )
