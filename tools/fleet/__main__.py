"""CLI: run a simulated fleet against a gateway.

    python -m tools.fleet --url ws://127.0.0.1:5010 --nodes 5 --clients 2 \\
        --pairs zh:en,en:zh --utterances 10 --interval 1.0 --mode utterance --print-results
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

import orjson

from tools.fleet.answers import Answer
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.node_caps import Pair

log = logging.getLogger(__name__)

NODES_ONLY_DEFAULT_S = 60.0
EXIT_OK, EXIT_FAILED, EXIT_NO_FLEET = 0, 1, 2


def parse_pairs(text: str) -> tuple[Pair, ...]:
    pairs: list[Pair] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        src, sep, tgt = item.partition(":")
        if not sep or not src or not tgt:
            raise argparse.ArgumentTypeError(f"pair {item!r} is not SRC:TGT")
        pairs.append((src, tgt))
    if not pairs:
        raise argparse.ArgumentTypeError("no language pair given")
    return tuple(pairs)


def parse_pair(text: str) -> Pair:
    pairs = parse_pairs(text)
    if len(pairs) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one pair A:B")
    return pairs[0]


def parse_backoff(text: str) -> tuple[float, float]:
    first, sep, most = text.partition(":")
    try:
        values = (float(first), float(most)) if sep else (float(first), float(first))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not FIRST:MAX seconds") from None
    if not 0 < values[0] <= values[1]:
        raise argparse.ArgumentTypeError("back-off needs 0 < FIRST <= MAX")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lingua-fleet", description=__doc__.splitlines()[0])
    a = p.add_argument
    a("--url", action="append", help="gateway base URL, repeatable (default ws://127.0.0.1:5010)")
    a("--nodes", type=int, default=2)
    a("--clients", type=int, default=1, help="0 runs nodes only, for --duration seconds")
    a("--pairs", type=parse_pairs, default=(("zh", "en"),), help="e.g. zh:en,en:zh")
    a("--utterances", type=int, default=10, help="per client")
    a("--interval", type=float, default=1.0, help="seconds between a client's utterances")
    a(
        "--rate",
        type=float,
        default=None,
        help="utterances/s over all clients (overrides --interval)",
    )
    a("--mode", choices=("utterance", "stream"), default="utterance")
    a("--packets", type=int, default=10, help="Opus frames per utterance")
    a("--processing-ms", type=float, default=50.0)
    a("--jitter-ms", type=float, default=0.0)
    a("--failure-rate", type=float, default=0.0)
    a("--empty-rate", type=float, default=0.0)
    a("--max-in-flight", type=int, default=4)
    a("--heartbeat", type=float, default=15.0, help="node heartbeat interval, seconds")
    a("--node-ramp", type=float, default=0.0)
    a("--client-ramp", type=float, default=0.0)
    a("--register-timeout", type=float, default=10.0)
    a("--answer-timeout", type=float, default=15.0)
    a("--duration", type=float, default=None, help="stop sending after this many seconds")
    a("--token", default=None, help="node auth token (?token=)")
    a("--api-key", default=None, help="client API key (?api_key=)")
    a("--tenant-id", default=None)
    a("--session-close", action="store_true", help="send session_close at the end")
    a("--two-way", type=int, default=0, help="more clients, in two-way mode (src_lang auto)")
    a("--two-way-pair", type=parse_pair, default=("zh", "en"), help="their languages, A:B")
    a("--playback", type=float, default=0.3, help="seconds each result's TTS 'plays'")
    a(
        "--reconnecting-nodes",
        type=int,
        default=0,
        help="nodes (of --nodes) that reconnect as the real agent (heartbeat before register)",
    )
    a("--drop-every", type=float, default=None, help="their sockets drop this often, seconds")
    a(
        "--agent-backoff",
        type=parse_backoff,
        default=(5.0, 60.0),
        help="their reconnect back-off, FIRST:MAX seconds",
    )
    a("--seed", type=int, default=0)
    a("--print-results", action="store_true", help="print every answer as it arrives")
    a("--json", metavar="PATH", default=None, help="write the report as JSON ('-' = stdout)")
    a("-v", "--verbose", action="count", default=0)
    return p


def config_from_args(ns: argparse.Namespace) -> FleetConfig:
    return FleetConfig(
        urls=tuple(ns.url or ["ws://127.0.0.1:5010"]),
        nodes=ns.nodes,
        clients=ns.clients,
        pairs=ns.pairs,
        processing_ms=ns.processing_ms,
        jitter_ms=ns.jitter_ms,
        failure_rate=ns.failure_rate,
        empty_rate=ns.empty_rate,
        max_in_flight=ns.max_in_flight,
        utterances=ns.utterances,
        interval_s=ns.interval,
        job_rate=ns.rate,
        mode=ns.mode,
        packets_per_utterance=ns.packets,
        heartbeat_interval_s=ns.heartbeat,
        node_ramp_s=ns.node_ramp,
        client_ramp_s=ns.client_ramp,
        register_timeout_s=ns.register_timeout,
        answer_timeout_s=ns.answer_timeout,
        duration_s=ns.duration,
        token=ns.token,
        api_key=ns.api_key,
        tenant_id=ns.tenant_id,
        send_session_close=ns.session_close,
        seed=ns.seed,
        two_way_clients=ns.two_way,
        two_way_pair=ns.two_way_pair,
        playback_s=ns.playback,
        reconnecting_nodes=ns.reconnecting_nodes,
        drop_every_s=ns.drop_every,
        agent_backoff_s=ns.agent_backoff,
    )


def print_answer(answer: Answer) -> None:
    mark = {True: "ok", False: "WRONG", None: "-"}[answer.correct]
    latency = f"{answer.latency_s * 1000:.0f} ms" if answer.latency_s is not None else "?"
    if answer.kind == "result":
        body = f"{answer.text_asr} -> {answer.text_translated}"
        if answer.group_id:
            body += f"  [{answer.group_id} part {answer.part_index}]"
    else:
        body = answer.error_code or answer.kind
    print(
        f"[{answer.client} #{answer.utterance_index}] {answer.kind} {mark} {latency}  {body}",
        flush=True,
    )


def print_node_event(node: str, what: str) -> None:
    print(f"[{node}] {what}", flush=True)


async def run(argv: Sequence[str] | None = None, handle_signals: bool = True) -> int:
    ns = build_parser().parse_args(argv)
    try:
        config = config_from_args(ns)
    except ValueError as exc:
        print(f"lingua-fleet: {exc}", file=sys.stderr)
        return EXIT_NO_FLEET
    fleet = Fleet(
        config,
        on_result=print_answer if ns.print_results else None,
        on_node_event=print_node_event if ns.print_results else None,
    )
    interrupted = asyncio.Event()
    installed = _install_signals(interrupted, fleet) if handle_signals else []
    try:
        try:
            await fleet.start()
        except TimeoutError as exc:
            print(f"lingua-fleet: {exc}", file=sys.stderr)
            return EXIT_NO_FLEET
        if config.clients == 0:
            hold = config.duration_s if config.duration_s is not None else NODES_ONLY_DEFAULT_S
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), hold)
        report = await fleet.run_clients()
    finally:
        await fleet.stop()
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    for line in report.summary_lines():
        print(line, flush=True)
    if ns.json:
        data = orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode()
        if ns.json == "-":
            print(data)
        else:
            await asyncio.to_thread(_write_text, ns.json, data + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def _install_signals(interrupted: asyncio.Event, fleet: Fleet) -> list[signal.Signals]:
    def on_signal() -> None:
        if interrupted.is_set():
            fleet.abort()  # a second signal: do not wait for the outstanding answers
            return
        interrupted.set()
        fleet.stop_sending()  # finish bounded: wait for outstanding answers, then exit

    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    return installed


def main() -> None:
    ns = build_parser().parse_args()
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(ns.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sys.exit(asyncio.run(run(sys.argv[1:])))


if __name__ == "__main__":
    main()
