"""`make up` / `python -m tools.launcher`: the whole suite on this machine until Ctrl-C.

Starts a private redis-server on a free port (never the one on 6379), the pool,
registry, dispatcher and two gateway replicas (the first on port 5010, where nodes and
clients look by default), and keeps them running: one that dies is restarted, after a
backoff, on the ports it had. With --demo, a simulated fleet runs too and its clients
print the translated results live. Ctrl-C or SIGTERM (to the launcher or to make's
process group) stops everything; no child can outlive the launcher.

Every LINGUA_* variable of the environment reaches every service (except the ports and
addresses the launcher sets). Authentication is off unless LINGUA_AUTH_DISABLED=false;
either way the run has credentials (generated unless given), written to the run
directory and printed with a grpcurl line for the team API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from lingua_common.env import SettingsError
from tools.launcher.credentials import ENV_FILE, TEAM_TOKEN_FILE, LocalCredentials
from tools.launcher.discovery_file import remove_stack_file, write_stack_file
from tools.launcher.environment import LaunchEnv, ignored_wiring, launch_env
from tools.launcher.ports import port_is_free
from tools.launcher.processes import REPO_ROOT, ServiceStartError
from tools.launcher.redis_server import RedisUnavailableError
from tools.launcher.stack import Stack, StackConfig
from tools.launcher.supervisor import Supervisor

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lingua-up", description=__doc__)
    parser.add_argument(
        "--ws-port",
        type=int,
        default=5010,
        help="WebSocket port of the first gateway (0: any free port)",
    )
    parser.add_argument("--gateways", type=int, default=2, help="gateway replicas")
    parser.add_argument(
        "--team-port",
        type=int,
        default=50055,
        help="the dispatcher's team API port (DispatcherService; 0: any free port)",
    )
    parser.add_argument(
        "--console-port", type=int, default=8090, help="the console's HTTP port (0: any free port)"
    )
    parser.add_argument("--redis-url", help="use this Redis instead of a private one")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="start a private 3-master Redis Cluster instead of one server",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=REPO_ROOT / "run",
        help="where service logs and ready files go",
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=None,
        help="service log format (default: LINGUA_LOG_FORMAT, else json)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also run a simulated fleet whose clients print results live",
    )
    parser.add_argument("--nodes", type=int, default=6, help="simulated nodes (with --demo)")
    parser.add_argument("--clients", type=int, default=3, help="simulated clients (with --demo)")
    parser.add_argument(
        "--two-way",
        type=int,
        default=1,
        help="more simulated clients in two-way mode, zh<->en, as the web client's main button",
    )
    parser.add_argument(
        "--reconnecting-nodes",
        type=int,
        default=1,
        help="simulated nodes (of --nodes) that reconnect as the real agent does",
    )
    parser.add_argument(
        "--drop-every",
        type=float,
        default=45.0,
        help="seconds between the socket drops of those nodes (with --demo)",
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between one demo client's utterances"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        launch = launch_env(os.environ)
    except SettingsError as error:
        sys.exit(f"lingua: {error}")
    ignored = ignored_wiring(os.environ)
    if ignored:
        print(f"lingua: ignoring {', '.join(ignored)} from the environment (set per service)")
    if args.ws_port and not port_is_free(args.ws_port):
        sys.exit(
            f"lingua: port {args.ws_port} is in use; choose another with "
            f"`make up WS_PORT=<port>` (or --ws-port)"
        )
    if args.team_port and not port_is_free(args.team_port):
        sys.exit(
            f"lingua: port {args.team_port} (the team API) is in use; choose another with "
            f"`make up TEAM_PORT=<port>` (or --team-port)"
        )
    if args.console_port and not port_is_free(args.console_port):
        sys.exit(
            f"lingua: port {args.console_port} (the console) is in use; choose another with "
            f"`make up CONSOLE_PORT=<port>` (or --console-port)"
        )
    env = dict(launch.services)
    if args.log_format:
        env["LINGUA_LOG_FORMAT"] = args.log_format
    config = StackConfig(
        redis_url=args.redis_url,
        redis_cluster=args.cluster,
        gateway_ws_ports=(args.ws_port, *([0] * (args.gateways - 1))),
        console_http_ports=(args.console_port,),
        team_ports=(args.team_port,),
        run_dir=args.run_dir,
        env=env,
        credentials=launch.credentials,
    )
    stack = Stack(config)
    # Until the loop handles them, INT and TERM interrupt the start (which then stops
    # what already runs).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print(f"lingua: starting (logs in {stack.run_dir})", flush=True)
        print(_auth_line(launch), flush=True)
        launch.credentials.write(stack.run_dir)
        stack.start()
        # For the `lingua` command: where everything is (removed again on the way out).
        write_stack_file(stack)
        asyncio.run(_serve(stack, args, launch))
    except (RedisUnavailableError, ServiceStartError) as error:
        sys.exit(f"lingua: {error}")
    except KeyboardInterrupt:
        pass
    finally:
        _ignore_stop_signals()
        remove_stack_file(stack)
        LocalCredentials.remove(stack.run_dir)
        codes = stack.stop()
        failed = {name: code for name, code in codes.items() if code not in (0, None)}
        print("lingua: stopped" + (f" (non-zero exits: {failed})" if failed else ""), flush=True)


def _ignore_stop_signals() -> None:
    """Stopping takes seconds and must not be cut short. A TERM to make's process group
    arrives twice (make passes its own on), and a second Ctrl-C is a common reflex."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _auth_line(launch: LaunchEnv) -> str:
    if launch.auth_on:
        return "lingua: authentication on: every API and socket asks for its credentials"
    return (
        "lingua: authentication off for this local run (LINGUA_AUTH_DISABLED=false: on); "
        "a team token presented still limits its caller to its tenant"
    )


def _print_credentials(stack: Stack) -> None:
    """How to use this run's credentials (all of them are in run/credentials.env)."""
    credentials = stack.credentials
    team_token, tenant = credentials.team
    env_file = stack.run_dir / ENV_FILE
    print(f"lingua: credentials in {env_file} (`set -a; . {env_file}` exports them)")
    if team_token:
        print(f"lingua: team token (tenant {tenant}): {team_token}")
    if credentials.operator_token:
        print(f"lingua: operator token (console sign-in, tenant *): {credentials.operator_token}")
    if team_token:
        token_file = stack.run_dir / TEAM_TOKEN_FILE
        print(
            "lingua: team API  grpcurl -plaintext -H "
            f'"authorization: Bearer $(cat {token_file})" '
            f"-d '{{\"page_size\": 5}}' {stack.team_address} "
            "lingua.dispatcher.v1.DispatcherService/ListJobs"
        )


def _print_endpoints(stack: Stack) -> None:
    print(f"lingua: redis     {stack.redis_url}")
    for name, service in [(s.name, s) for s in stack.services]:
        extra = f"  ws://127.0.0.1:{service.ports['ws']}" if "ws" in service.ports else ""
        if "team" in service.ports:
            extra += f"  team API 127.0.0.1:{service.ports['team']}"
        if "metrics" in service.ports:
            extra += f"  metrics http://127.0.0.1:{service.ports['metrics']}/metrics"
        print(f"lingua: {name:<12} grpc 127.0.0.1:{service.ports['grpc']}{extra}")
    first = stack.gateway_urls[0]
    print(f"lingua: ready — nodes connect to {first}/ws/node, clients to {first}/ws/session")
    for url in stack.console_urls:
        print(f"lingua: console   {url}/  (live nodes, pools, load; drain and cancel)")
    _print_credentials(stack)
    print(
        "lingua: try       .venv/bin/lingua nodes   (also: pools, jobs, top, "
        "submit FILE.wav --from zh --to en; --help)"
    )
    print("lingua: press Ctrl-C to stop", flush=True)


async def _serve(stack: Stack, args: argparse.Namespace, launch: LaunchEnv) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    supervisor = asyncio.create_task(Supervisor(stack.supervised).run())
    # "ready" only once Ctrl-C is handled here: a Ctrl-C right after it must stop us.
    _print_endpoints(stack)
    demo = asyncio.create_task(_demo(stack, args, launch)) if args.demo else None
    await stop.wait()
    # Nothing is restarted from here on; the caller stops the stack in order.
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
    _ignore_stop_signals()
    print("lingua: stopping", flush=True)
    for task in (supervisor, demo):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    # Stopped here, not only after the loop: a restart's readiness wait runs in a thread
    # that ends with its process, and leaving the loop waits for that thread.
    stack.stop()


async def _demo(stack: Stack, args: argparse.Namespace, launch: LaunchEnv) -> None:
    from tools.fleet import Answer, Fleet, FleetConfig  # noqa: PLC0415 - demo only

    def show(answer: Answer) -> None:
        if answer.kind == "result":
            group = f"  {answer.group_id} part {answer.part_index}" if answer.group_id else ""
            print(
                f"  [{answer.client} #{answer.utterance_index} → {answer.tgt_lang}] "
                f"{answer.text_translated}  ({(answer.latency_s or 0) * 1000:.1f} ms){group}",
                flush=True,
            )
        else:
            print(
                f"  [{answer.client} #{answer.utterance_index}] {answer.kind} "
                f"{answer.error_code or ''}",
                flush=True,
            )

    def show_node(node: str, what: str) -> None:
        print(f"  [{node}] {what}", flush=True)

    config = FleetConfig(
        urls=tuple(stack.gateway_urls),
        nodes=args.nodes,
        clients=args.clients,
        # Two-way clients (tw…) speak zh and en in turns, as the web client's main button.
        two_way_clients=args.two_way,
        # These agents' sockets drop now and then; they come back as the real agent does.
        reconnecting_nodes=min(args.reconnecting_nodes, args.nodes),
        drop_every_s=args.drop_every,
        pairs=(("zh", "en"), ("en", "zh"), ("en", "de")),
        processing_ms=150,
        jitter_ms=100,
        utterances=10_000,
        interval_s=args.interval,
        client_ramp_s=1.0,
        mode="stream",
        run_id="demo",
        token=launch.node_token,
        api_key=launch.client_key,
    )
    async with Fleet(config, on_result=show, on_node_event=show_node) as fleet:
        await fleet.start()
        print(
            f"lingua: demo fleet up — {args.nodes} nodes ({config.reconnecting_nodes} "
            f"reconnecting like the real agent), {args.clients} clients and {args.two_way} "
            "two-way (zh<->en) (watch them in the console)",
            flush=True,
        )
        await fleet.run_clients()


if __name__ == "__main__":
    main()
