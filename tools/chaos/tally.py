"""What came back in one phase: counts from the clients' reports, and the answers' times
(for the time to recover). Pure logic, so it is tested on its own."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tools.fleet.answers import Answer, ClientReport


@dataclass(frozen=True, slots=True)
class AnswerTime:
    sent_at: float  # time.perf_counter() of the utterance's send
    at: float  # of its (first) answer
    translated: bool  # a result with the right texts
    utterance: str = ""  # "session #index: kind", to find it in the logs


class AnswerLog:
    """Every first answer of a phase with its times; the fleet clients' on_result."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self.answers: list[AnswerTime] = []

    def record(self, answer: Answer) -> None:
        at = self._clock()
        sent_at = at - (answer.latency_s or 0.0)
        translated = answer.kind == "result" and bool(answer.correct)
        what = f"{answer.session_id} #{answer.utterance_index}: {answer.error_code or answer.kind}"
        self.answers.append(AnswerTime(sent_at, at, translated, what))


@dataclass(frozen=True)
class Tally:
    sessions: int  # sessions opened
    reconnects: int  # sessions opened again after their socket dropped
    connect_failures: int  # attempts that got no session (gateway down)
    sent: int
    # Unanswered when its session's socket dropped: PROTOCOL.md has no resume, nobody
    # could deliver them. Everything else sent counts as accepted.
    cut_off: int
    sessions_dropped: int
    # Sessions that dropped, or did not open, on a gateway the fault did not touch.
    dropped_elsewhere: list[str]
    accepted: int
    lost: int  # accepted on a session that stayed open, never answered
    answered: int
    answered_once: int
    translated: int  # a result with the right texts
    wrong: int  # a result with someone else's texts
    missing: int  # missing_result or an empty result
    errors: dict[str, int] = field(default_factory=dict)  # answers that are errors, by code
    duplicates: int = 0  # answers beyond an utterance's first
    unexpected: int = 0  # answers for an utterance never sent
    out_of_order: int = 0
    protocol_violations: int = 0
    error_samples: list[str] = field(default_factory=list)
    open_failures: list[str] = field(default_factory=list)  # why sessions did not open

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tally(runs: Sequence[tuple[str, ClientReport]], closed: Collection[str] = ()) -> Tally:
    """Counts over every session of a phase: (gateway URL, report) each. `closed`: the
    gateways whose sessions the fault itself drops."""
    reports = [report for _, report in runs]
    opened = [r for r in reports if r.init_error is None]
    dropped = [r for r in opened if r.connection_lost]
    cut_off = sum(r.unanswered for r in dropped)
    sent = sum(r.sent for r in reports)
    errors: Counter[str] = Counter()
    for report in reports:
        errors.update(report.errors_by_code)
    answered = sum(r.answered for r in reports)
    return Tally(
        sessions=len(opened),
        reconnects=max(0, len(opened) - len({_user(r.name) for r in reports})),
        connect_failures=len(reports) - len(opened),
        sent=sent,
        cut_off=cut_off,
        sessions_dropped=len(dropped),
        dropped_elsewhere=[
            f"{r.name} on {url}: {r.init_error or 'socket dropped'}"
            for url, r in runs
            if (r.connection_lost or r.init_error) and url not in closed
        ],
        accepted=sent - cut_off,
        lost=sum(r.unanswered for r in opened if not r.connection_lost),
        answered=answered,
        answered_once=answered - sum(r.duplicated for r in reports),
        translated=sum(r.correct for r in reports),
        wrong=sum(r.wrong for r in reports),
        missing=sum(r.missing_results + r.empty for r in reports),
        errors=dict(errors),
        duplicates=sum(r.duplicates for r in reports),
        unexpected=sum(r.unexpected for r in reports),
        out_of_order=sum(r.out_of_order for r in reports),
        protocol_violations=sum(r.protocol_violations for r in reports),
        error_samples=[s for r in reports for s in r.error_samples][:5],
        open_failures=[f"{r.name}: {r.init_error}" for r in reports if r.init_error][:5],
    )


def _user(name: str) -> str:
    """The user a session belongs to: a reconnect's name is the first one plus -rN."""
    base, sep, attempt = name.rpartition("-r")
    return base if sep and attempt.isdigit() else name


@dataclass(frozen=True)
class Recovery:
    """Seconds from the fault's start; None when it never happened in the phase."""

    first_answer_s: float | None  # to the first translation received after it
    first_new_answer_s: float | None  # to the first translation of an utterance sent after it
    slowest_s: float | None  # the longest an utterance of the phase waited for its answer
    slowest: str  # which one it was
    sent_after: int  # utterances answered that were sent after the fault started

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def recovery(answers: Sequence[AnswerTime], fault_at: float) -> Recovery:
    after = [a for a in answers if a.translated and a.at >= fault_at]
    new = [a for a in after if a.sent_at >= fault_at]
    slowest = max(answers, key=lambda a: a.at - a.sent_at, default=None)
    return Recovery(
        first_answer_s=_since(after, fault_at),
        first_new_answer_s=_since(new, fault_at),
        slowest_s=None if slowest is None else slowest.at - slowest.sent_at,
        slowest="" if slowest is None else slowest.utterance,
        sent_after=sum(1 for a in answers if a.sent_at >= fault_at),
    )


def _since(answers: Sequence[AnswerTime], fault_at: float) -> float | None:
    if not answers:
        return None
    return min(a.at for a in answers) - fault_at
