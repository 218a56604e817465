"""What each `lingua` command asks the services, as async functions returning an Output:
the JSON document (`--json`) and what the terminal shows. The typer layer (app.py) only
parses arguments and prints."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import RenderableType

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua_common.metrics.aggregate import Snapshot
from lingua_common.ops import stats, views
from lingua_common.ops.client import OpsError, SchedulerClient
from tools.cli import render
from tools.cli.audio import read_audio
from tools.cli.config import CliConfig, CliError
from tools.cli.scrape import scrape_snapshot

EVENT_NAMES = {
    dispatcher_pb.JOB_EVENT_KIND_DISPATCHED: "dispatched",
    dispatcher_pb.JOB_EVENT_KIND_ACCEPTED: "accepted",
    dispatcher_pb.JOB_EVENT_KIND_STARTED: "started",
    dispatcher_pb.JOB_EVENT_KIND_ASR_PARTIAL: "partial",
    dispatcher_pb.JOB_EVENT_KIND_COMPLETED: "completed",
    dispatcher_pb.JOB_EVENT_KIND_FAILED: "failed",
    dispatcher_pb.JOB_EVENT_KIND_CANCELLED: "cancelled",
}
FINAL_STATES = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Output:
    data: Any
    view: RenderableType
    # Non-zero when the command did its work but the outcome is a failure (a failed job).
    exit_code: int = 0


def client_of(config: CliConfig) -> SchedulerClient:
    return SchedulerClient(config.endpoints, config.credentials, config.timeout_s)


# --- nodes ---------------------------------------------------------------------------------


async def nodes(config: CliConfig, limit: int) -> Output:
    async with client_of(config) as client:
        (found, more), pools = await asyncio.gather(client.list_nodes(limit), client.list_pools())
    rows = views.node_rows(found, pools)
    now = render.now_ms()
    data = {
        "nodes": [row.to_json(now) for row in rows],
        "by_status": views.status_counts(rows),
        "truncated": more,
    }
    return Output(data, render.nodes_table(rows, now, more))


async def node(config: CliConfig, node_id: str) -> Output:
    async with client_of(config) as client:
        found, pools = await asyncio.gather(client.get_node(node_id), client.list_pools())
    row = views.node_rows([found], pools)[0]
    now = render.now_ms()
    data = {**row.to_json(now), "epoch": found.epoch, "history": list(found.history)}
    return Output(data, render.node_panel(row, list(found.history), now))


async def drain(config: CliConfig, node_id: str, reason: str) -> Output:
    async with client_of(config) as client:
        status = await client.drain_node(node_id, reason)
    name = views.status_name(status)
    return Output(
        {"node_id": node_id, "status": name},
        f"node {node_id} is {name}: it takes no new job; its running jobs finish",
    )


# --- pools ---------------------------------------------------------------------------------


async def pools(config: CliConfig) -> Output:
    async with client_of(config) as client:
        (found_nodes, _), found_pools, snapshot = await asyncio.gather(
            client.list_nodes(), client.list_pools(), _snapshot_or_none(config)
        )
    waiting = None
    if snapshot is not None and stats.has_dispatcher(snapshot):
        waiting = stats.waiting_by_pair(snapshot)
    rows = views.pool_rows(found_pools, found_nodes, waiting)
    return Output({"pools": [row.to_json() for row in rows]}, render.pools_table(rows))


async def _snapshot_or_none(config: CliConfig) -> Snapshot | None:
    if not config.metrics_urls:
        return None
    return await scrape_snapshot(config.metrics_urls, config.timeout_s)


# --- jobs ----------------------------------------------------------------------------------


async def jobs(config: CliConfig, state: str, session_id: str, node_id: str, limit: int) -> Output:
    try:
        state_value = views.state_value(state) if state else job_pb2.JOB_STATE_UNSPECIFIED
    except ValueError as error:
        raise CliError(str(error)) from None
    async with client_of(config) as client:
        found = await client.list_jobs(
            state=state_value, session_id=session_id, node_id=node_id, limit=limit
        )
    rows = [views.job_json(job, config.trace_url) for job in found]
    return Output({"jobs": rows}, render.jobs_table(rows))


async def job(config: CliConfig, job_id: str) -> Output:
    async with client_of(config) as client:
        found = await client.get_job(job_id)
    data = views.job_json(found, config.trace_url)
    return Output(data, render.job_panel(data))


async def cancel(config: CliConfig, job_id: str, reason: str) -> Output:
    async with client_of(config) as client:
        found = await client.cancel_job(job_id, reason)
    data = views.job_json(found, config.trace_url)
    return Output(data, render.job_panel(data))


# --- submit and watch ----------------------------------------------------------------------

Progress = Callable[[str], None]


def submit_request(
    path: Path,
    src: str,
    tgt: str,
    *,
    two_way: bool,
    request_id: str,
    tenant: str,
    sample_rate: int | None,
) -> dispatcher_pb.SubmitJobRequest:
    audio = read_audio(path, sample_rate)
    request = dispatcher_pb.SubmitJobRequest(
        request_id=request_id or f"lingua-cli/{uuid.uuid4().hex}",
        tenant_id=tenant,
        audio=audio.data,
        audio_format=audio.audio_format,
        sample_rate=audio.sample_rate,
        src_lang=src,
        tgt_lang=tgt,
        pipeline=job_pb2.Pipeline(use_asr=True, use_nmt=True),
    )
    if two_way:
        # As the web client's two-way button does: the node hears which one was spoken.
        request.src_lang = "auto"
        request.mode = job_pb2.TRANSLATION_MODE_TWO_WAY_AUTO
        request.lang_a, request.lang_b = src, tgt
        request.auto_langs.extend([src, tgt])
    return request


async def submit(
    config: CliConfig, request: dispatcher_pb.SubmitJobRequest, timeout_s: float, progress: Progress
) -> Output:
    async with client_of(config) as client:
        submitted = await client.submit_job(request)
        progress(f"submitted {submitted.job_id} ({views.state_name(submitted.state)})")
        return await _follow(config, client, submitted.job_id, timeout_s, progress)


async def watch(config: CliConfig, job_id: str, timeout_s: float, progress: Progress) -> Output:
    async with client_of(config) as client:
        return await _follow(config, client, job_id, timeout_s, progress)


async def _follow(
    config: CliConfig, client: SchedulerClient, job_id: str, timeout_s: float, progress: Progress
) -> Output:
    started = time.monotonic()
    events: list[dict[str, Any]] = []
    final: job_pb2.Job | None = None
    async for event in client.watch_job(job_id, timeout_s):
        name = EVENT_NAMES.get(event.kind, "event")
        at_ms = round((time.monotonic() - started) * 1000)
        entry: dict[str, Any] = {"event": name, "at_ms": at_ms, "node_id": event.job.node_id}
        line = f"+{at_ms:>6} ms  {name:<10}"
        if name == "partial":
            entry["text"] = event.partial_text
            line += f" {event.partial_text}"
        elif name in ("dispatched", "accepted"):
            line += f" node {event.job.node_id} (attempt {event.job.attempt_id})"
        events.append(entry)
        progress(line)
        if name in FINAL_STATES:
            final = event.job
            break
    if final is None:
        # The watch ended without a final event (its deadline): show where the job is.
        final = await client.get_job(job_id)
        if views.state_name(final.state) not in FINAL_STATES:
            raise OpsError(
                f"job {job_id} is still {views.state_name(final.state)} after "
                f"{timeout_s:.0f} s (lingua watch {job_id} to keep following)"
            )
    data = views.job_json(final, config.trace_url)
    data["events"] = events
    failed = data["state"] != "completed"
    return Output(data, render.job_panel(data), exit_code=1 if failed else 0)
