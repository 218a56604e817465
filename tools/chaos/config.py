"""What one chaos run does: its load, its timings and the stack's settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tools.fleet.node_caps import Pair

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_HEARTBEAT_MS = 15_000  # the services' LINGUA_HEARTBEAT_INTERVAL_MS default

# The short run (`--quick`, and the e2e test in CI): the faults the other e2e tests do
# not cover already (tests/e2e/test_failover.py kills a dispatcher and a node), small
# load, short phases; an utterance unanswered 20 s after sending stopped counts as lost
# (a healthy stack answers within seconds of any of these faults, or after one job
# timeout, 15 s, for a job whose node was cut off).
QUICK_FAULTS = ("gateway-nodes", "node-flap", "redis-empty")
QUICK_SETTINGS: dict[str, float] = {
    "nodes": 4,
    "sessions": 4,
    "rate": 8.0,
    "lead_s": 2.0,
    "after_s": 3.0,
    "answer_wait_s": 20.0,
}


@dataclass(frozen=True)
class ChaosConfig:
    # Fault names (tools/chaos/faults.py), run one after the other, each in its own phase.
    faults: tuple[str, ...]
    nodes: int = 8
    sessions: int = 8
    rate: float = 20.0  # utterances/s over all sessions
    pairs: tuple[Pair, ...] = (("zh", "en"), ("en", "zh"))
    processing_ms: float = 300.0
    jitter_ms: float = 100.0
    # A phase: load for lead_s, the fault, load until after_s past the fault, then the
    # wait for what is outstanding and the checks.
    lead_s: float = 4.0
    after_s: float = 10.0
    # A killed process stays dead this long before it is started again (the launcher's
    # supervisor waits 0.5 s before a first restart).
    down_s: float = 0.5
    # Node flaps: rounds, nodes dropped per round, pause between rounds.
    flap_rounds: int = 2
    flap_nodes: int = 2
    flap_gap_s: float = 1.5
    # Bounded waits. Outstanding answers: beyond the gateway's own bound on an
    # utterance's answer (LINGUA_ANSWER_TIMEOUT_MS, 60 s), so every utterance gets the
    # scheduler's verdict and "unanswered" means lost. Slots: two slot-audit passes and
    # some, after which a slot still held for no running job is a leak.
    answer_wait_s: float = 70.0
    slot_settle_s: float = 10.0
    restart_timeout_s: float = 30.0
    # The stack's settings (each one documented in the README). Heartbeats as deployed
    # (None: the services' default, 15 s); the slot audit every 2 s instead of 15 s so a
    # slot left behind by a crash is freed within slot_settle_s (the audit frees slots
    # through slot_release.lua too: a build whose release is broken stays caught).
    heartbeat_ms: int | None = None
    slot_audit_ms: int = 2_000
    env: Mapping[str, str] = field(default_factory=dict)  # more LINGUA_* for every service
    log_level: str = "INFO"
    out_dir: Path = DEFAULT_OUT_DIR
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.faults:
            raise ValueError("at least one fault is needed")
        if self.nodes < 2 or self.sessions < 2:
            raise ValueError("nodes and sessions must be >= 2 (one per gateway role)")
        if self.rate <= 0:
            raise ValueError("rate must be > 0")
        positive = (self.lead_s, self.after_s, self.answer_wait_s, self.slot_settle_s)
        if min(positive) <= 0 or self.down_s < 0:
            raise ValueError("phase timings must be > 0 (down_s >= 0)")
        if self.flap_rounds < 1 or not 1 <= self.flap_nodes <= self.nodes:
            raise ValueError("flap_rounds must be >= 1 and flap_nodes within 1..nodes")

    @property
    def interval_s(self) -> float:
        """Start-to-start time between one session's utterances."""
        return self.sessions / self.rate

    @property
    def heartbeat_s(self) -> float:
        return (self.heartbeat_ms or DEFAULT_HEARTBEAT_MS) / 1000

    def service_env(self) -> dict[str, str]:
        """Every service's settings: the slot audit's interval (and the heartbeats' when
        set), then the caller's."""
        env = {"LINGUA_SLOT_AUDIT_INTERVAL_MS": str(self.slot_audit_ms)}
        if self.heartbeat_ms is not None:
            env["LINGUA_HEARTBEAT_INTERVAL_MS"] = str(self.heartbeat_ms)
        return env | dict(self.env)
