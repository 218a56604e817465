"""`lingua top`: load over the last interval, from the services' own metrics (jobs/s,
latency percentiles, waiting jobs per pair) and APIs (nodes by status)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lingua_common.metrics import aggregate as agg
from lingua_common.metrics.aggregate import Snapshot
from lingua_common.ops import stats, views
from lingua_common.ops.client import SchedulerClient
from tools.cli.commands import Output, client_of
from tools.cli.config import CliConfig, CliError
from tools.cli.render import STATUS_STYLE
from tools.cli.scrape import scrape_snapshot


def top_data(
    interval: stats.Interval, after: Snapshot, rows: list[views.NodeRow]
) -> dict[str, Any]:
    waiting = stats.waiting_by_pair(after)
    return {
        "interval_s": round(interval.seconds, 3),
        "jobs_per_s": round(interval.per_s(agg.JOBS_CREATED), 3),
        "finished_per_s": {
            state: round(interval.per_s(agg.JOBS_FINISHED, state=state), 3)
            for state in agg.FINAL_STATES
        },
        "no_node_per_s": round(interval.per_s(agg.NO_NODE), 3),
        "dispatch_latency_ms": stats.percentiles_ms(interval.buckets(agg.DISPATCH_LATENCY)),
        "result_latency_ms": stats.percentiles_ms(interval.buckets(agg.RESULT_LATENCY)),
        "waiting_total": stats.waiting_total(after),
        "waiting_by_pair": [
            {"src": src, "tgt": tgt, "waiting": n} for (src, tgt), n in sorted(waiting.items())
        ],
        "nodes_by_status": views.status_counts(rows),
        "busy_nodes": [
            {"node_id": r.node_id, "running": r.running, "max_jobs": r.max_jobs}
            for r in sorted(rows, key=lambda r: -r.running)[:10]
            if r.running
        ],
        "connections": stats.connections(after),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def top_view(data: dict[str, Any]) -> RenderableType:
    load = Table(title=f"last {data['interval_s']:.1f} s", title_justify="left")
    for column in ("jobs/s", "completed/s", "failed/s", "no node/s", "waiting"):
        load.add_column(column, justify="right")
    finished = data["finished_per_s"]
    load.add_row(
        f"{data['jobs_per_s']:.2f}",
        f"{finished['completed']:.2f}",
        f"{finished['failed']:.2f}",
        f"{data['no_node_per_s']:.2f}",
        "?" if data["waiting_total"] is None else str(data["waiting_total"]),
    )
    latency = Table(title="latency (ms)", title_justify="left")
    for column in ("", "p50", "p95", "p99"):
        latency.add_column(column, justify="right")
    for name, key in (("dispatch", "dispatch_latency_ms"), ("result", "result_latency_ms")):
        q = data[key]
        latency.add_row(name, _ms(q["p50"]), _ms(q["p95"]), _ms(q["p99"]))
    nodes = Text("nodes: ")
    for status, count in data["nodes_by_status"].items():
        nodes.append(f"{status} {count}  ", style=STATUS_STYLE.get(status, ""))
    waiting = Table(title="waiting per pair", title_justify="left")
    waiting.add_column("pair")
    waiting.add_column("waiting", justify="right")
    for entry in data["waiting_by_pair"]:
        waiting.add_row(f"{entry['src']}→{entry['tgt']}", str(entry["waiting"]))
    if not data["waiting_by_pair"]:
        waiting.add_row("-", "0")
    busy = Table(title="busiest nodes", title_justify="left")
    busy.add_column("node")
    busy.add_column("running/max", justify="right")
    for entry in data["busy_nodes"]:
        busy.add_row(entry["node_id"], f"{entry['running']}/{entry['max_jobs']}")
    return Group(load, latency, nodes, waiting, busy)


async def frames(config: CliConfig, interval_s: float) -> AsyncGenerator[Output, None]:
    """One frame per interval, each over the interval just past."""
    if not config.metrics_urls:
        raise CliError(
            "lingua top reads the services' metrics: pass --metrics-url or set "
            "LINGUA_METRICS_URLS (after `make up` the stack file lists them)"
        )
    async with client_of(config) as client:
        before = await scrape_snapshot(config.metrics_urls, config.timeout_s)
        while True:
            await asyncio.sleep(interval_s)
            output, before = await _frame(config, client, before)
            yield output


async def _frame(
    config: CliConfig, client: SchedulerClient, before: Snapshot
) -> tuple[Output, Snapshot]:
    after, (nodes, _), pools = await asyncio.gather(
        scrape_snapshot(config.metrics_urls, config.timeout_s),
        client.list_nodes(),
        client.list_pools(),
    )
    data = top_data(stats.Interval.between(before, after), after, views.node_rows(nodes, pools))
    return Output(data, top_view(data)), after
