"""The knobs of scenario "jobs": full size (1,000 nodes), `--quick`, and the command-line
options it honours when given explicitly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from bench.options import BenchOptions
from tools.fleet.node_caps import Pair

# Every node serves one group (both directions of one pair); clients cycle the pairs.
PAIR_GROUPS: tuple[tuple[Pair, ...], ...] = (
    (("zh", "en"), ("en", "zh")),
    (("ja", "en"), ("en", "ja")),
    (("de", "fr"), ("fr", "de")),
    (("es", "en"), ("en", "es")),
)
PAIRS: tuple[Pair, ...] = tuple(pair for group in PAIR_GROUPS for pair in group)


@dataclass(frozen=True)
class JobsConfig:
    nodes: int = 1_000
    gateways: int = 2
    dispatchers: int = 1
    register_concurrency: int = 100  # node registrations outstanding during the ramp
    register_timeout_s: float = 30.0
    heartbeat_s: float = 15.0  # what real agents use (and the registry, offline after 3x)
    node_max_in_flight: int = 4  # the registry's default LINGUA_NODE_MAX_JOBS
    # 1. sustained load: clients at a fixed total rate
    clients: int = 50
    rate: float = 100.0  # jobs/s offered over all clients
    utterances: int = 40  # per client: 50 x 40 at 100/s is 20 s
    processing_ms: float = 20.0
    answer_timeout_s: float = 20.0
    # 2. saturation: closed-loop sessions, fast nodes
    saturation_s: float = 10.0
    saturation_clients: int = 50
    saturation_window: int = 2  # outstanding per session
    saturation_processing_ms: float = 3.0
    # 3. the Celery reference (seconds 0: skipped)
    celery_pool: str = "threads"
    celery_concurrency: int = 16
    celery_round_trips: int = 500
    celery_seconds: float = 10.0
    celery_db: int = 1  # the stack's redis, another db: no key mixes with the scheduler's
    settle_s: float = 1.0  # between phases, so one's tail is not in the next

    @property
    def saturation_outstanding(self) -> int:
        return self.saturation_clients * self.saturation_window

    @property
    def load_s(self) -> float:
        return self.clients * self.utterances / self.rate

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            pairs=[f"{src}-{tgt}" for src, tgt in PAIRS],
            saturation_outstanding=self.saturation_outstanding,
            load_s=self.load_s,
        )
        return data


QUICK: dict[str, Any] = {
    "nodes": 50,
    "register_concurrency": 25,
    "clients": 8,
    "rate": 20.0,
    "utterances": 8,  # 64 utterances in 3.2 s
    "answer_timeout_s": 10.0,
    "saturation_s": 2.0,
    "saturation_clients": 8,
    "celery_round_trips": 50,
    "celery_seconds": 2.0,
    "settle_s": 0.5,
}

# BenchOptions field -> JobsConfig field, applied only when given explicitly.
FROM_OPTIONS = {
    "nodes": "nodes",
    "gateways": "gateways",
    "dispatchers": "dispatchers",
    "clients": "clients",
    "rate": "rate",
    "utterances": "utterances",
    "processing_ms": "processing_ms",
    "saturation_s": "saturation_s",
    "saturation_window": "saturation_window",
    "saturation_processing_ms": "saturation_processing_ms",
    "answer_timeout_s": "answer_timeout_s",
    "celery_pool": "celery_pool",
    "celery_concurrency": "celery_concurrency",
    "celery_seconds": "celery_seconds",
}


def jobs_config(opts: BenchOptions) -> JobsConfig:
    config = JobsConfig()
    if opts.quick:
        config = replace(config, **QUICK)
    given = {FROM_OPTIONS[k]: getattr(opts, k) for k in opts.explicit if k in FROM_OPTIONS}
    config = replace(config, **given)
    if config.nodes < len(PAIR_GROUPS):
        raise ValueError(f"scenario jobs needs at least {len(PAIR_GROUPS)} nodes (one per pair)")
    return config
