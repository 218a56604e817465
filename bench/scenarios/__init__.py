"""Every scenario module; importing this package registers them all in bench.catalog."""

from bench.scenarios import fairness, gateway, jobs, nodes, scaleout, spine, tracing

__all__ = ["fairness", "gateway", "jobs", "nodes", "scaleout", "spine", "tracing"]
