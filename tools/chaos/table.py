"""The table printed after a run: one row per fault (a Markdown table, so it can be
pasted as it is), then what each failed check saw."""

from __future__ import annotations

from collections.abc import Sequence

from tools.chaos.phase import PhaseResult

HEADER = (
    "fault",
    "down s",
    "jobs running (cut off)",
    "accepted",
    "answered once",
    "translated",
    "errors",
    "dup",
    "out of order",
    "cut off",
    "slots held / running",
    "recover s (any / new)",
    "slowest s",
    "ok",
)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def _jobs_hit(phase: PhaseResult) -> str:
    event = phase.event
    if event.jobs_cut_off is None:
        return str(event.jobs_running)
    return f"{event.jobs_running} ({event.jobs_cut_off})"


def row(phase: PhaseResult) -> tuple[str, ...]:
    t, r, slots = phase.tally, phase.recovery, phase.slots
    errors = ", ".join(f"{code} {n}" for code, n in sorted(t.errors.items())) or "0"
    if t.wrong or t.missing:
        errors += f" (+{t.wrong} wrong, {t.missing} missing)"
    return (
        phase.fault,
        f"{phase.event.down_s:.2f}",
        _jobs_hit(phase),
        str(t.accepted),
        str(t.answered_once),
        str(t.translated),
        errors,
        str(t.duplicates),
        str(t.out_of_order),
        f"{t.cut_off} ({t.sessions_dropped} sessions)" if t.sessions_dropped else "0",
        f"{slots.held} / {slots.running} on {len(slots.last)} nodes",
        f"{_seconds(r.first_answer_s)} / {_seconds(r.first_new_answer_s)}",
        _seconds(r.slowest_s),
        "ok" if phase.ok else "FAILED",
    )


def render(phases: Sequence[PhaseResult]) -> str:
    rows = [HEADER, *(row(p) for p in phases)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    lines = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += [line(r) for r in rows[1:]]
    for phase in phases:
        for check in phase.failed:
            lines.append(f"{phase.fault}: FAILED {check.name}: {check.detail}")
    return "\n".join(lines)
