"""The knobs of a benchmark run: full-size defaults and the `--quick` smoke preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "results"
CELERY_POOLS = ("threads", "prefork", "solo")


@dataclass(frozen=True)
class BenchOptions:
    out_dir: Path = DEFAULT_OUT_DIR
    quick: bool = False
    gateways: int = 2
    nodes: int = 200
    clients: int = 50
    rate: float = 100.0  # utterances/s over all clients
    utterances: int = 40  # per client session
    processing_ms: float = 20.0  # fake node work per job
    heartbeat_s: float = 2.0  # node heartbeat interval (fleet and registry)
    node_ramp_s: float = 2.0  # nodes connect spread over this long
    probe_nodes: int = 50  # nodes the heartbeat probe registers over gRPC
    probe_rate: float = 300.0  # Heartbeat calls/s
    probe_s: float = 5.0
    probe_delay_s: float = 3.0  # into the client phase, so the probe runs under load
    # Before saturation: the load fleet's nodes leave; a node whose DeregisterNode
    # failed stays READY until the registry's sweep (3 heartbeat intervals), so wait.
    settle_s: float = 7.0
    saturation_s: float = 10.0  # 0 skips the saturation measure
    saturation_window: int = 1  # utterances awaiting an answer per session
    saturation_processing_ms: float = 5.0
    saturation_max_in_flight: int = 16
    answer_timeout_s: float = 20.0
    # Scenario "nodes": node heartbeats/s over all WebSockets (the interval follows).
    heartbeat_rate: float = 700.0
    # Scenario "jobs": dispatcher replicas, and the Celery reference's worker and time
    # (celery_seconds 0 skips the reference).
    dispatchers: int = 1
    celery_pool: str = "threads"
    celery_concurrency: int = 16
    celery_seconds: float = 10.0
    # The options given explicitly (not defaults), so a scenario with its own defaults
    # (e.g. "nodes": 10,000 nodes) can tell `--nodes 200` from "not given".
    explicit: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out_dir"] = str(self.out_dir)
        data["explicit"] = sorted(self.explicit)
        return data


QUICK: dict[str, Any] = {
    "nodes": 10,
    "clients": 4,
    "rate": 20.0,
    "utterances": 6,
    "node_ramp_s": 0.2,
    "probe_nodes": 5,
    "probe_rate": 50.0,
    "probe_s": 1.0,
    "probe_delay_s": 0.2,
    "settle_s": 0.5,
    "saturation_s": 2.0,
    "saturation_window": 2,
    "answer_timeout_s": 10.0,
}

FIELD_NAMES = frozenset(f.name for f in fields(BenchOptions)) - {"explicit"}


def build_options(quick: bool, overrides: dict[str, Any]) -> BenchOptions:
    """Defaults, then the quick preset when asked, then the values given explicitly."""
    unknown = set(overrides) - FIELD_NAMES
    if unknown:
        raise ValueError(f"unknown options: {sorted(unknown)}")
    options = BenchOptions(quick=quick)
    if quick:
        options = replace(options, **QUICK)
    given = {k: v for k, v in overrides.items() if v is not None}
    options = replace(options, **given, explicit=frozenset(given))
    validate(options)
    return options


def validate(o: BenchOptions) -> None:
    if o.gateways < 1 or o.nodes < 1 or o.clients < 1 or o.utterances < 1:
        raise ValueError("gateways, nodes, clients and utterances must be >= 1")
    positive = {
        "rate": o.rate,
        "heartbeat_s": o.heartbeat_s,
        "probe_rate": o.probe_rate,
        "answer_timeout_s": o.answer_timeout_s,
        "heartbeat_rate": o.heartbeat_rate,
    }
    bad = [name for name, value in positive.items() if value <= 0]
    if bad:
        raise ValueError(f"must be > 0: {', '.join(bad)}")
    durations = (o.processing_ms, o.probe_s, o.saturation_s, o.node_ramp_s, o.probe_delay_s)
    if min(*durations, o.settle_s) < 0:
        raise ValueError("durations must be >= 0")
    if o.probe_nodes < 1 or o.saturation_window < 1 or o.saturation_max_in_flight < 1:
        raise ValueError("probe nodes, saturation window and max in flight must be >= 1")
    if o.dispatchers < 1 or o.celery_concurrency < 1:
        raise ValueError("dispatchers and celery concurrency must be >= 1")
    if o.celery_pool not in CELERY_POOLS:
        raise ValueError(f"celery pool must be one of {', '.join(CELERY_POOLS)}")
    if o.celery_seconds < 0:
        raise ValueError("celery seconds must be >= 0")
