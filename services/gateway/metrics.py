"""The gateway's Prometheus metrics: its open WebSockets by kind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

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
