"""The `lingua` command line (typer): arguments in, one coroutine run, tables or JSON out.

Errors are one line on stderr and exit code 1 (2 for usage errors, as click does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.live import Live

from lingua_common.env import SettingsError
from lingua_common.ops.client import OpsError
from tools.cli import commands, top
from tools.cli.audio import AudioError
from tools.cli.commands import Output
from tools.cli.config import CliConfig, CliError, Flags, resolve

T = TypeVar("T")

app = typer.Typer(
    name="lingua",
    help="Operate the Lingua scheduler: nodes, pools, jobs, live load. After `make up` "
    "it finds the local stack by itself; elsewhere give addresses by flag or LINGUA_* "
    "variables.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _console() -> Console:
    return Console(highlight=False)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"lingua: {message}", err=True)
    return typer.Exit(1)


def _config(ctx: typer.Context) -> CliConfig:
    flags: Flags = ctx.obj
    try:
        return resolve(flags, os.environ, Path.cwd())
    except (CliError, SettingsError) as error:
        raise _fail(str(error)) from None


def _run(ctx: typer.Context, job: Callable[[CliConfig], Awaitable[T]]) -> T:
    config = _config(ctx)
    try:
        return asyncio.run(job(config))  # type: ignore[arg-type]
    except (OpsError, CliError, AudioError) as error:
        raise _fail(str(error)) from None


def _emit(output: Output, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(output.data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _console().print(output.view)
    if output.exit_code:
        raise typer.Exit(output.exit_code)


@app.callback()
def options(
    ctx: typer.Context,
    registry: Annotated[
        str, typer.Option(help="Registry gRPC address (env LINGUA_REGISTRY_ADDRESS)")
    ] = "",
    pool: Annotated[str, typer.Option(help="Pool gRPC address (env LINGUA_POOL_ADDRESS)")] = "",
    dispatcher: Annotated[
        str,
        typer.Option(help="The dispatcher's team API address (env LINGUA_DISPATCHER_TEAM_ADDRESS)"),
    ] = "",
    metrics_url: Annotated[
        list[str] | None,
        typer.Option(help="A service's /metrics URL, repeatable (env LINGUA_METRICS_URLS)"),
    ] = None,
    stack: Annotated[
        str, typer.Option(help="The local stack's discovery file (env LINGUA_STACK_FILE)")
    ] = "",
    service_token: Annotated[
        str, typer.Option(help="Service credential (env LINGUA_SERVICE_TOKEN)")
    ] = "",
    api_token: Annotated[str, typer.Option(help="Team API token (env LINGUA_API_TOKEN)")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds per call")] = 10.0,
) -> None:
    ctx.obj = Flags(
        registry=registry,
        pool=pool,
        dispatcher=dispatcher,
        metrics_urls=tuple(metrics_url or ()),
        stack_file=stack,
        service_token=service_token,
        api_token=api_token,
        timeout_s=timeout,
    )


@app.command()
def nodes(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    limit: Annotated[int, typer.Option(help="Show at most this many")] = 5000,
) -> None:
    """Every node: status, pairs, running/max, gateway, last heartbeat, why it serves nothing."""
    _emit(_run(ctx, lambda c: commands.nodes(c, limit)), as_json)


@app.command()
def node(ctx: typer.Context, node_id: str, as_json: JsonFlag = False) -> None:
    """One node in detail, with its status history."""
    _emit(_run(ctx, lambda c: commands.node(c, node_id)), as_json)


@app.command()
def drain(
    ctx: typer.Context,
    node_id: str,
    reason: Annotated[str, typer.Option(help="Recorded on the node")] = "drained by lingua",
    as_json: JsonFlag = False,
) -> None:
    """Stop giving a node new jobs (its running jobs finish)."""
    _emit(_run(ctx, lambda c: commands.drain(c, node_id, reason)), as_json)


@app.command()
def pools(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each language pair: nodes, free slots, waiting jobs; two-way pairs too."""
    _emit(_run(ctx, commands.pools), as_json)


@app.command()
def jobs(
    ctx: typer.Context,
    state: Annotated[str, typer.Option(help="created, pending, …, completed, failed")] = "",
    session: Annotated[str, typer.Option(help="Jobs of this session")] = "",
    node_id: Annotated[str, typer.Option("--node", help="Jobs on this node")] = "",
    limit: Annotated[int, typer.Option(help="Show at most this many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Recent jobs, newest first (or a session's, or a node's)."""
    _emit(_run(ctx, lambda c: commands.jobs(c, state, session, node_id, limit)), as_json)


@app.command()
def job(ctx: typer.Context, job_id: str, as_json: JsonFlag = False) -> None:
    """One job: state, node, attempt, result, trace id (a link with LINGUA_TRACE_URL)."""
    _emit(_run(ctx, lambda c: commands.job(c, job_id)), as_json)


@app.command()
def cancel(
    ctx: typer.Context,
    job_id: str,
    reason: Annotated[str, typer.Option(help="Recorded on the job")] = "cancelled by lingua",
    as_json: JsonFlag = False,
) -> None:
    """Cancel a job (from any dispatcher replica)."""
    _emit(_run(ctx, lambda c: commands.cancel(c, job_id, reason)), as_json)


def _progress(as_json: bool) -> Callable[[str], None]:
    console = Console(stderr=True, highlight=False) if as_json else _console()

    def show(line: str) -> None:
        console.print(line)

    return show


@app.command()
def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="WAV (16-bit mono), Ogg Opus, or .pcm")],
    src: Annotated[str, typer.Option("--from", help="Spoken language")],
    tgt: Annotated[str, typer.Option("--to", help="Target language")],
    two_way: Annotated[
        bool, typer.Option("--two-way", help="Either language may be spoken (two-way mode)")
    ] = False,
    request_id: Annotated[str, typer.Option(help="Idempotency key (default: new)")] = "",
    tenant: Annotated[str, typer.Option(help="Tenant id of the job")] = "",
    sample_rate: Annotated[int, typer.Option(help="Sample rate of a .pcm file")] = 0,
    wait: Annotated[float, typer.Option(help="Seconds to follow the job")] = 120.0,
    as_json: JsonFlag = False,
) -> None:
    """Send audio through the team API (SubmitJob), follow it live, print the result."""

    async def go(config: CliConfig) -> Output:
        request = commands.submit_request(
            file,
            src,
            tgt,
            two_way=two_way,
            request_id=request_id,
            tenant=tenant,
            sample_rate=sample_rate or None,
        )
        return await commands.submit(config, request, wait, _progress(as_json))

    _emit(_run(ctx, go), as_json)


@app.command()
def watch(
    ctx: typer.Context,
    job_id: str,
    wait: Annotated[float, typer.Option(help="Seconds to follow the job")] = 120.0,
    as_json: JsonFlag = False,
) -> None:
    """Follow an existing job live until it ends."""
    _emit(_run(ctx, lambda c: commands.watch(c, job_id, wait, _progress(as_json))), as_json)


@app.command("top")
def top_command(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes")] = 2.0,
    once: Annotated[bool, typer.Option(help="One refresh, then exit")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Live load: jobs/s, latency percentiles, waiting jobs per pair, nodes by status."""
    if interval <= 0:
        raise _fail("--interval must be > 0")

    async def go(config: CliConfig) -> Output | None:
        frames = top.frames(config, interval)
        try:
            if once or as_json:
                return await anext(frames)
            with Live(console=_console(), auto_refresh=False) as live:
                async for frame in frames:
                    live.update(frame.view, refresh=True)
            return None
        finally:
            await frames.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        output = _run(ctx, go)
        if output is not None:
            _emit(output, as_json)


def main() -> None:
    app()
