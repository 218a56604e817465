"""A fixed-width text table: metric | value | target."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from bench.results import Row

METRIC_W, VALUE_W, TARGET_W = 42, 30, 36
WIDTH = METRIC_W + VALUE_W + TARGET_W + 8


def _mark(row: Row) -> str:
    if row.met is None:
        return ""
    return "  [ok]" if row.met else "  [MISS]"


def _cells(*cells: str) -> str:
    metric, value, target = cells
    return f"{metric:<{METRIC_W}} | {value:<{VALUE_W}} | {target}".rstrip()


def render(title: str, rows: Sequence[Row], notes: Sequence[str]) -> str:
    rule = "-" * WIDTH
    lines = [title, rule, _cells("metric", "value", "target"), rule]
    for row in rows:
        if row.metric.startswith("-- "):
            lines.append(row.metric)
            continue
        values = textwrap.wrap(row.value, VALUE_W) or [""]
        lines.append(_cells(row.metric, values[0], row.target + _mark(row)))
        lines += [_cells("", more, "") for more in values[1:]]
    lines.append(rule)
    for note in notes:
        lines += textwrap.wrap(note, WIDTH, initial_indent="note: ", subsequent_indent="      ")
    return "\n".join(lines)
