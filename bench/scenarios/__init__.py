"""Every scenario module; importing this package registers them all in bench.catalog."""

from bench.scenarios import gateway, jobs, nodes, spine, tracing

__all__ = ["gateway", "jobs", "nodes", "spine", "tracing"]
