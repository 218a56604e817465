"""After a phase's load has drained: fresh sessions on every session gateway must be
served too. A fault can leave a service broken for newcomers only (connections pooled
before Redis restarted, a cache that went stale), which the load's long-lived sessions
would not show until the next phase, where it would be blamed on the wrong fault."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from tools.chaos.world import World
from tools.fleet.client import FakeClient

SESSIONS_PER_GATEWAY = 2
UTTERANCES = 2
INTERVAL_S = 0.1
ANSWER_WAIT_S = 20.0


@dataclass(frozen=True)
class ProbeResult:
    sessions: int
    sent: int
    translated: int
    failures: list[str]  # sessions that did not open, answers that were no translation

    @property
    def ok(self) -> bool:
        return not self.failures and self.sent == self.translated == self.sessions * UTTERANCES

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"ok": self.ok}


async def probe(world: World, run_id: str) -> ProbeResult:
    urls = world.session_urls
    clients = [
        FakeClient(
            dataclasses.replace(
                world.session_config(i, run_id=f"{run_id}-probe"),
                url=urls[i % len(urls)],
                utterances=UTTERANCES,
                interval_s=INTERVAL_S,
                answer_timeout_s=ANSWER_WAIT_S,
            )
        )
        for i in range(SESSIONS_PER_GATEWAY * len(urls))
    ]
    reports = await asyncio.gather(*(client.run() for client in clients))
    failures = [f"{r.name}: session not opened: {r.init_error}" for r in reports if r.init_error]
    for report in reports:
        if report.init_error is None and report.correct < report.sent:
            codes = ", ".join(f"{c} {n}" for c, n in report.errors_by_code.items())
            failures.append(
                f"{report.session_id}: {report.sent - report.correct} of {report.sent} "
                f"not translated ({codes or 'unanswered'})"
            )
    return ProbeResult(
        sessions=len(reports),
        sent=sum(r.sent for r in reports),
        translated=sum(r.correct for r in reports),
        failures=failures,
    )
