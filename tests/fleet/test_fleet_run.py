"""Fleet (nodes and clients in one process) and the CLI, against the minimal scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from tools.fleet import metrics
from tools.fleet.__main__ import build_parser, parse_pairs, run
from tools.fleet.fleet import Fleet, FleetConfig

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import MiniScheduler

FAST = {"processing_ms": 0.0, "interval_s": 0.0, "chunk_interval_s": 0.0}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_node_on_one_replica_client_on_the_other(sched: MiniScheduler) -> None:
    replica_a, replica_b = await sched.listen(), await sched.listen()
    config = FleetConfig(urls=(replica_a, replica_b), nodes=1, clients=1, utterances=3, **FAST)
    async with Fleet(config) as fleet:
        report = await fleet.run_clients()
    assert sched.ports == [(_port(replica_a), "/ws/node"), (_port(replica_b), "/ws/session")]
    assert (report.sent, report.answered, report.correct, report.unanswered) == (3, 3, 3, 0)
    assert report.ok and report.nodes_registered == 1
    assert report.node_totals["completed"] == 3
    counts = {name: s.count for name, s in report.latency.items()}
    assert counts == {
        metrics.REGISTER: 1,
        metrics.UTTERANCE_TO_ASSIGN: 3,
        metrics.RESULT_TO_ANSWER: 3,
        metrics.END_TO_END: 3,
    }
    e2e = report.latency[metrics.END_TO_END]
    assert 0 < e2e.p50_ms <= e2e.p99_ms <= e2e.max_ms
    data = orjson.loads(orjson.dumps(report.as_dict()))
    assert data["ok"] is True and data["client_reports"][0]["unanswered"] == 0
    assert "OK" in report.summary_lines()[-1]


async def test_stream_fleet_spreads_pairs_and_nodes(sched: MiniScheduler) -> None:
    url = await sched.listen()
    config = FleetConfig(
        urls=(url,),
        nodes=3,
        clients=4,
        pairs=(("zh", "en"), ("en", "zh")),
        utterances=2,
        mode="stream",
        **FAST,
    )
    async with Fleet(config) as fleet:
        report = await fleet.run_clients()
    assert (report.sent, report.correct, report.out_of_order) == (8, 8, 0)
    inits = sched.messages("session_init")
    assert sorted((m["src_lang"], m["tgt_lang"]) for m in inits) == [
        ("en", "zh"),
        ("en", "zh"),
        ("zh", "en"),
        ("zh", "en"),
    ]
    assert sorted(n.stats.assigned for n in fleet.nodes) == [2, 3, 3]


async def test_stop_sending_before_the_run(sched: MiniScheduler) -> None:
    url = await sched.listen()
    async with Fleet(FleetConfig(urls=(url,), nodes=1, clients=2, **FAST)) as fleet:
        fleet.stop_sending()
        report = await fleet.run_clients()
    assert (report.clients, report.sent, report.unanswered) == (2, 0, 0)
    assert report.ok


async def test_start_fails_when_nodes_cannot_register(sched: MiniScheduler) -> None:
    url = await sched.listen()
    await sched.close()  # nothing listens there any more
    config = FleetConfig(urls=(url,), nodes=2, register_timeout_s=0.2, reconnect_initial_s=0.01)
    fleet = Fleet(config)
    try:
        with pytest.raises(TimeoutError, match="2 of 2 nodes"):
            await fleet.start()
    finally:
        await fleet.stop()


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        FleetConfig(urls=())
    with pytest.raises(ValueError):
        FleetConfig(failure_rate=0.7, empty_rate=0.7)
    rated = FleetConfig(clients=4, job_rate=8.0)
    assert rated.client_interval_s() == 0.5
    spread = FleetConfig(urls=("a", "b", "c"), nodes=2, clients=2)
    assert [spread.node_url(i) for i in range(2)] == ["a", "b"]
    assert [spread.client_url(i) for i in range(2)] == ["c", "a"]
    assert parse_pairs("zh:en, en:ja") == (("zh", "en"), ("en", "ja"))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--pairs", "zh-en"])


async def test_cli_run(
    sched: MiniScheduler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = await sched.listen()
    out = tmp_path / "report.json"
    argv = ["--url", url, "--nodes", "2", "--clients", "2", "--pairs", "zh:en,en:zh"]
    argv += ["--utterances", "2", "--interval", "0", "--processing-ms", "0"]
    argv += ["--print-results", "--json", str(out)]
    assert await run(argv, handle_signals=False) == 0
    printed = capsys.readouterr().out
    assert printed.count("] result ok ") == 4
    assert printed.rstrip().endswith("OK")
    data = orjson.loads(out.read_bytes())
    assert (data["sent"], data["correct"], data["ok"]) == (4, 4, True)


async def test_cli_exit_codes(sched: MiniScheduler, capsys: pytest.CaptureFixture[str]) -> None:
    url = await sched.listen()
    nodes_only = ["--url", url, "--clients", "0", "--duration", "0"]
    assert await run(nodes_only, handle_signals=False) == 0
    sched.corrupt_text = True
    wrong = ["--url", url, "--nodes", "1", "--utterances", "1", "--processing-ms", "0"]
    assert await run(wrong, handle_signals=False) == 1
    assert "answered 1  correct 0  wrong 1" in capsys.readouterr().out
    assert await run(["--url", url, "--failure-rate", "2"], handle_signals=False) == 2
