"""The outcome of a fleet run: totals over all clients and nodes plus latency summaries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.fleet.answers import ClientReport
from tools.fleet.metrics import LatencySummary
from tools.fleet.node import NodeStats

_NODE_COUNTERS = (
    "assigned",
    "completed",
    "failed",
    "empty",
    "refused",
    "cancelled",
    "invalid",
    "server_errors",
    "drops",
    "early_heartbeats",
)


@dataclass
class FleetReport:
    nodes: int = 0
    nodes_registered: int = 0
    clients: int = 0
    sent: int = 0
    answered: int = 0
    correct: int = 0
    wrong: int = 0
    empty: int = 0
    missing_results: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    session_errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    out_of_order: int = 0
    duplicates: int = 0
    unexpected: int = 0
    unanswered: int = 0
    init_failures: int = 0
    connections_lost: int = 0
    protocol_violations: int = 0  # scheduler messages (to nodes or clients) off PROTOCOL.md
    violation_samples: list[str] = field(default_factory=list)
    groups: int = 0  # utterance groups the results named, over all sessions
    ungrouped: int = 0  # results with a recognised text and no group_id (off PROTOCOL.md)
    playbacks: int = 0  # tts_play_ended reports the clients sent, each with a group received
    duration_s: float = 0.0
    answers_per_s: float = 0.0
    latency: dict[str, LatencySummary] = field(default_factory=dict)
    node_totals: dict[str, int] = field(default_factory=dict)
    client_reports: list[ClientReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every session opened and every utterance answered, in order, rightly, on protocol."""
        return (
            self.unanswered == 0
            and self.wrong == 0
            and self.out_of_order == 0
            and self.init_failures == 0
            and self.protocol_violations == 0
            and self.ungrouped == 0
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency"] = {name: s.as_dict() for name, s in self.latency.items()}
        data["client_reports"] = [c.as_dict() for c in self.client_reports]
        data["ok"] = self.ok
        return data

    def summary_lines(self) -> list[str]:
        lines = [
            f"nodes {self.nodes_registered}/{self.nodes} registered, clients {self.clients}, "
            f"{self.duration_s:.1f} s, {self.answers_per_s:.1f} answers/s",
            f"sent {self.sent}  answered {self.answered}  correct {self.correct}  "
            f"wrong {self.wrong}  empty {self.empty}  missing {self.missing_results}  "
            f"unanswered {self.unanswered}  out-of-order {self.out_of_order}",
        ]
        if self.errors_by_code or self.session_errors:
            lines.append(f"errors {self.errors_by_code}  session errors {self.session_errors}")
            lines += [f"  {sample}" for sample in self.error_samples[:5]]
        if self.init_failures or self.connections_lost:
            lines.append(
                f"sessions failed to open {self.init_failures}, lost {self.connections_lost}"
            )
        lines.append(
            f"groups {self.groups}  results without a group {self.ungrouped}  "
            f"playbacks reported {self.playbacks}"
        )
        if self.protocol_violations:
            lines.append(f"protocol violations {self.protocol_violations}, e.g.:")
            lines += [f"  {sample}" for sample in self.violation_samples[:5]]
        lines.append("nodes " + "  ".join(f"{k} {v}" for k, v in self.node_totals.items()))
        for name, s in self.latency.items():
            if s.count:
                lines.append(
                    f"{name:<20} n={s.count:<6} mean {s.mean_ms:7.1f}  p50 {s.p50_ms:7.1f}  "
                    f"p90 {s.p90_ms:7.1f}  p99 {s.p99_ms:7.1f}  max {s.max_ms:7.1f} ms"
                )
        lines.append("OK" if self.ok else "FAILED")
        return lines

    def summary(self) -> str:
        """The summary as one text: an assertion message shows all of it."""
        return "\n".join(self.summary_lines())


def build_report(
    clients: Sequence[ClientReport],
    nodes: Sequence[tuple[NodeStats, bool]],
    latency: dict[str, LatencySummary],
    duration_s: float,
) -> FleetReport:
    """Sum client reports and node stats ((stats, registered) per node)."""
    errors: Counter[str] = Counter()
    session_errors: Counter[str] = Counter()
    for c in clients:
        errors.update(c.errors_by_code)
        session_errors.update(c.session_errors)
    totals = {name: sum(getattr(stats, name) for stats, _ in nodes) for name in _NODE_COUNTERS}
    totals["reconnects"] = sum(max(0, stats.connects - 1) for stats, _ in nodes)
    answered = sum(c.answered for c in clients)
    samples = [s for c in clients for s in c.violation_samples]
    samples += [s for stats, _ in nodes for s in stats.violation_samples]
    return FleetReport(
        nodes=len(nodes),
        nodes_registered=sum(1 for _, registered in nodes if registered),
        clients=len(clients),
        sent=sum(c.sent for c in clients),
        answered=answered,
        correct=sum(c.correct for c in clients),
        wrong=sum(c.wrong for c in clients),
        empty=sum(c.empty for c in clients),
        missing_results=sum(c.missing_results for c in clients),
        errors_by_code=dict(errors),
        session_errors=dict(session_errors),
        error_samples=[sample for c in clients for sample in c.error_samples],
        out_of_order=sum(c.out_of_order for c in clients),
        duplicates=sum(c.duplicates for c in clients),
        unexpected=sum(c.unexpected for c in clients),
        unanswered=sum(c.unanswered for c in clients),
        init_failures=sum(1 for c in clients if c.init_error is not None),
        connections_lost=sum(1 for c in clients if c.connection_lost),
        protocol_violations=sum(c.protocol_violations for c in clients)
        + sum(stats.protocol_violations for stats, _ in nodes),
        violation_samples=samples[:20],
        groups=sum(c.groups for c in clients),
        ungrouped=sum(c.ungrouped for c in clients),
        playbacks=sum(c.playbacks for c in clients),
        duration_s=duration_s,
        answers_per_s=answered / duration_s if duration_s > 0 else 0.0,
        latency=latency,
        node_totals=totals,
        client_reports=list(clients),
    )
