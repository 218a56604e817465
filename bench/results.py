"""What a scenario hands back: table rows, raw data for the JSON file, and a verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tools.fleet.metrics import LatencySummary


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    target: str = ""
    met: bool | None = None  # None: informational, no target to meet

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScenarioResult:
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ok: bool = True  # the run was correct (targets missed do not make it fail)

    def add(self, metric: str, value: str, target: str = "", met: bool | None = None) -> None:
        self.rows.append(Row(metric, value, target, met))

    def add_section(self, title: str) -> None:
        self.rows.append(Row(f"-- {title}", ""))


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def p50_p99(summary: LatencySummary) -> str:
    if summary.count == 0:
        return "no samples"
    return f"{ms(summary.p50_ms)} / {ms(summary.p99_ms)}"


def summary_dict(summary: LatencySummary) -> dict[str, float | int]:
    return summary.as_dict()
