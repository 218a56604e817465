"""One phase: load through the fleet, one fault in the middle of it, then the wait for
every answer and the checks."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from tools.chaos.config import ChaosConfig
from tools.chaos.faults import Fault, FaultEvent
from tools.chaos.invariants import Check, phase_checks
from tools.chaos.load import ReconnectingSession, SessionLoad
from tools.chaos.probe import ProbeResult, probe
from tools.chaos.slots import SlotReader, SlotReport
from tools.chaos.tally import AnswerLog, Recovery, Tally, recovery, tally
from tools.chaos.world import World

log = logging.getLogger(__name__)

# The load's own bound (each client waits config.answer_wait_s) plus room to end.
FINISH_MARGIN_S = 10.0


@dataclass(frozen=True)
class PhaseResult:
    fault: str
    summary: str
    event: FaultEvent
    started: float  # time.perf_counter() when the load began
    tally: Tally
    recovery: Recovery
    slots: SlotReport
    probe: ProbeResult
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "summary": self.summary,
            "ok": self.ok,
            "fault_at_s": self.event.started - self.started,
            "down_s": self.event.down_s,
            "fault_detail": self.event.detail,
            "jobs_running_at_fault": self.event.jobs_running,
            "jobs_cut_off_by_fault": self.event.jobs_cut_off,
            "counts": self.tally.as_dict(),
            "recovery": self.recovery.as_dict(),
            "slots": self.slots.as_dict(),
            "probe": self.probe.as_dict(),
            "checks": [check.as_dict() for check in self.checks],
        }


async def run_phase(world: World, fault: Fault, config: ChaosConfig) -> PhaseResult:
    answers = AnswerLog()
    # Sessions start spread over one interval, so utterances arrive evenly (not all
    # sessions at the same instant, which would leave the nodes idle in between).
    spread_s = config.interval_s / config.sessions
    load = SessionLoad(
        [
            ReconnectingSession(
                world.session_config(i, run_id=fault.name),
                world.session_urls,
                answers.record,
                start_delay_s=i * spread_s,
            )
            for i in range(config.sessions)
        ]
    )
    started = time.perf_counter()
    load.start()
    try:
        await asyncio.sleep(config.lead_s)
        log.info("phase %s: fault", fault.name)
        event = await fault.inject(world, config)
        log.info("phase %s: %s (%.2f s)", fault.name, event.detail, event.down_s)
        await asyncio.sleep(max(0.0, event.started + config.after_s - time.perf_counter()))
        runs = await load.finish(config.answer_wait_s + FINISH_MARGIN_S)
    finally:
        await load.cancel()
    slots = await SlotReader(world.redis_client, world.keys).settle(
        world.nodes, config.slot_settle_s
    )
    probed = await probe(world, run_id=fault.name)
    counts = tally(runs, closed=fault.closes_sessions_on(world))
    recovered = recovery(answers.answers, event.started)
    checks = phase_checks(counts, recovered, slots, probed, world.dead())
    return PhaseResult(
        fault.name, fault.summary, event, started, counts, recovered, slots, probed, checks
    )
