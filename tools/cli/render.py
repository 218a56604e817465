"""Tables and panels for the `lingua` command (rich), one function per view."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lingua_common.ops.views import NodeRow, PoolRow, pair_text

STATUS_STYLE = {
    "ready": "green",
    "registering": "cyan",
    "degraded": "yellow",
    "draining": "magenta",
    "offline": "red",
}
STATE_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow"}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    return f"{seconds / 60:.0f}m ago"


def _pairs(row: NodeRow) -> str:
    return ", ".join(pair_text(p) for p in row.pairs) or "-"


def nodes_table(rows: Sequence[NodeRow], now: int, more: bool = False) -> Table:
    table = Table(title=f"nodes ({len(rows)}{'+' if more else ''})", title_justify="left")
    for column in ("node", "status", "pairs", "running/max", "gateway", "heartbeat", "serves"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row.node_id,
            Text(row.status, style=STATUS_STYLE.get(row.status, "")),
            _pairs(row),
            f"{row.running}/{row.max_jobs}",
            row.gateway or "-",
            _age(row.heartbeat_age_s(now)),
            Text("yes", style="green") if not row.idle_reason else Text(row.idle_reason, "red"),
        )
    return table


def node_panel(row: NodeRow, history: Sequence[str], now: int) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", Text(row.status, style=STATUS_STYLE.get(row.status, "")))
    table.add_row("reason", row.status_reason or "-")
    table.add_row("serves", "yes" if not row.idle_reason else row.idle_reason)
    table.add_row("pairs", _pairs(row))
    table.add_row("running/max", f"{row.running}/{row.max_jobs}")
    table.add_row("gateway", row.gateway or "-")
    table.add_row("last heartbeat", _age(row.heartbeat_age_s(now)))
    if history:
        table.add_row("history", "\n".join(history[:10]))
    return Panel(table, title=f"node {row.node_id}", title_align="left")


def pools_table(rows: Sequence[PoolRow]) -> Table:
    table = Table(title=f"pools ({len(rows)} pairs)", title_justify="left")
    for column in ("pair", "nodes", "ready", "running/capacity", "free slots", "waiting"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for row in rows:
        table.add_row(
            pair_text(row.pair, row.two_way),
            str(row.nodes),
            str(row.ready_nodes),
            f"{row.running}/{row.capacity}",
            Text(str(row.free_slots), style="red" if row.free_slots == 0 else ""),
            "?" if row.waiting is None else str(row.waiting),
        )
    return table


def jobs_table(jobs: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=f"jobs ({len(jobs)})", title_justify="left")
    for column in ("job", "state", "pair", "node", "attempt", "session/index", "trace", "error"):
        table.add_column(column, overflow="fold")
    for job in jobs:
        error = job["error"]
        table.add_row(
            job["job_id"],
            Text(job["state"], style=STATE_STYLE.get(job["state"], "")),
            f"{job['src']}→{job['tgt']}",
            job["node_id"] or "-",
            str(job["attempt"]),
            f"{job['session_id'] or '-'}/{job['utterance_index']}",
            job["trace_id"] or "-",
            f"{error['code']}" if error else "",
        )
    return table


def job_panel(job: Mapping[str, Any]) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("state", Text(job["state"], style=STATE_STYLE.get(job["state"], "")))
    table.add_row("pair", f"{job['src']}→{job['tgt']}")
    table.add_row("node / attempt", f"{job['node_id'] or '-'} / {job['attempt']}")
    table.add_row("request", job["request_id"] or "-")
    if job["session_id"]:
        table.add_row("session / index", f"{job['session_id']} / {job['utterance_index']}")
    if job["tenant_id"]:
        table.add_row("tenant", job["tenant_id"])
    table.add_row("trace id", job["trace_id"] or "-")
    if job["trace_url"]:
        table.add_row("trace", job["trace_url"])
    if job["error"]:
        table.add_row("error", f"{job['error']['code']}: {job['error']['message']}")
    result = job["result"]
    if result:
        table.add_row("asr", result["text_asr"] or "")
        table.add_row("translation", result["text_translated"] or "")
    return Panel(table, title=f"job {job['job_id']}", title_align="left")


def progress_lines(events: Sequence[str]) -> RenderableType:
    return Group(*(Text(line) for line in events))
