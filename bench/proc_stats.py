"""What the processes of a run cost, read from /proc (Linux): resident memory and CPU.

A ProcSample is one moment: each named process's RSS (bytes) and CPU time (seconds,
user + system), plus the whole machine's busy CPU time. Differences of two samples give
what a phase cost. A process that is gone (or a platform without /proc) reads as None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def process_rss(pid: int) -> int | None:
    """Resident set size in bytes."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * PAGE_SIZE


def process_cpu_s(pid: int) -> float | None:
    """User plus system CPU time used so far, in seconds."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after it are fixed.
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_s() -> float | None:
    """CPU time all cores spent not idle since boot, in seconds."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / CLOCK_TICKS


@dataclass(frozen=True)
class ProcSample:
    rss: dict[str, int | None]
    cpu: dict[str, float | None]
    machine_busy: float | None

    @classmethod
    def take(cls, pids: Mapping[str, int]) -> ProcSample:
        return cls(
            rss={name: process_rss(pid) for name, pid in pids.items()},
            cpu={name: process_cpu_s(pid) for name, pid in pids.items()},
            machine_busy=machine_busy_s(),
        )

    def cpu_since(self, before: ProcSample) -> dict[str, float | None]:
        """CPU seconds each process used between `before` and this sample."""
        spent: dict[str, float | None] = {}
        for name, now in self.cpu.items():
            then = before.cpu.get(name)
            spent[name] = now - then if now is not None and then is not None else None
        return spent

    def machine_busy_since(self, before: ProcSample) -> float | None:
        if self.machine_busy is None or before.machine_busy is None:
            return None
        return self.machine_busy - before.machine_busy
