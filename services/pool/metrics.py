"""The pool's Prometheus metrics: the size and version of its in-memory language index,
read when scraped (no work on the lookup path)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from lingua_common.language_index import LanguageIndex


def watch_index(registry: CollectorRegistry, index: LanguageIndex) -> None:
    Gauge(
        "lingua_index_nodes",
        "Nodes with an entry in this replica's language index (registered, not offline)",
        registry=registry,
    ).set_function(lambda: len(index.node_ids()))
    Gauge(
        "lingua_index_version",
        "Version of the language index this replica has applied (replicas converge)",
        registry=registry,
    ).set_function(lambda: index.version)
