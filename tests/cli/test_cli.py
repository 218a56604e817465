"""Each `lingua` command, as a table and as --json, against what the services hold.

Nodes are raw WebSocket peers (so the test decides what each one does); the stack has
two dispatcher replicas, so load and waiting jobs come from both."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from lingua.common.v1 import job_pb2, node_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dpb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dgrpc
from lingua.pool.v1 import pool_service_pb2 as ppb
from lingua.pool.v1 import pool_service_pb2_grpc as pgrpc
from lingua.registry.v1 import registry_service_pb2 as rpb
from lingua.registry.v1 import registry_service_pb2_grpc as rgrpc
from tests.cli.conftest import run_cli, suite_env
from tests.metrics_scrape import scrape
from tests.peers import Peer, open_session, registered_node, utterance_message
from tests.services.lifecycle_helpers import wait_status
from tests.suite import InProcessSuite, grpc_address, team_address
from tools import discovery
from tools.fleet import FakeNode, NodeConfig, payload


async def registry_nodes(suite: InProcessSuite) -> dict[str, node_pb2.Node]:
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        reply = await rgrpc.RegistryServiceStub(channel).ListNodes(
            rpb.ListNodesRequest(page_size=500)
        )
    return {node.node_id: node for node in reply.nodes}


async def pool_pairs(suite: InProcessSuite) -> dict[str, set[tuple[str, str]]]:
    async with grpc.aio.insecure_channel(grpc_address(suite.pool)) as channel:
        reply = await pgrpc.PoolServiceStub(channel).ListPools(ppb.ListPoolsRequest())
    found: dict[str, set[tuple[str, str]]] = {}
    for pool in reply.pools:
        for node_id in pool.node_ids:
            found.setdefault(node_id, set()).add((pool.pair.src, pool.pair.tgt))
    return found


async def list_jobs(suite: InProcessSuite, **request: Any) -> list[job_pb2.Job]:
    async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
        reply = await dgrpc.DispatcherServiceStub(channel).ListJobs(dpb.ListJobsRequest(**request))
    return list(reply.jobs)


async def drain_directly(suite: InProcessSuite, node_id: str) -> None:
    async with grpc.aio.insecure_channel(grpc_address(suite.registry)) as channel:
        await rgrpc.RegistryServiceStub(channel).DrainNode(
            rpb.DrainNodeRequest(node_id=node_id, reason="maintenance")
        )


async def assigned(node: Peer, count: int) -> list[dict[str, Any]]:
    return [await node.expect("job_assign", skip=("ui_event", "job_cancel")) for _ in range(count)]


# --- nodes -------------------------------------------------------------------------------


async def test_nodes_shows_every_node_as_the_registry_and_the_pool_hold_it(
    suite: InProcessSuite,
) -> None:
    env = suite_env(suite)
    busy, busy_id = await registered_node(suite.ws_url(), [("zh", "en"), ("en", "zh")])
    idle, idle_id = await registered_node(suite.ws_url(), [("en", "de")])
    drained, drained_id = await registered_node(suite.ws_url(), [("zh", "en")])
    for node_id in (busy_id, idle_id, drained_id):
        await wait_status(suite, node_id, "ready")
    await drain_directly(suite, drained_id)
    session, session_id = await open_session(suite.ws_url())
    await session.send(utterance_message(session_id, 0, b"audio"))
    await assigned(busy, 1)

    listed = (await run_cli("nodes", "--json", env=env)).json()
    records, pairs = await registry_nodes(suite), await pool_pairs(suite)
    rows = {row["node_id"]: row for row in listed["nodes"]}  # type: ignore[index]
    assert set(rows) == set(records) == {busy_id, idle_id, drained_id}
    for node_id, record in records.items():
        row = rows[node_id]
        assert row["status"] == node_pb2.NodeStatus.Name(record.status).split("_")[-1].lower()
        assert row["running"] == record.running_jobs
        assert row["max_jobs"] == record.max_jobs
        assert row["gateway"] == record.gateway_id == "gw-0"
        assert row["last_heartbeat_ms"] == record.last_heartbeat_ms
        assert {(p["src"], p["tgt"]) for p in row["pairs"]} == pairs.get(node_id, set())
    assert rows[busy_id]["running"] == 1
    assert rows[busy_id]["serving"] and rows[idle_id]["serving"]
    assert not rows[drained_id]["serving"]
    assert rows[drained_id]["idle_reason"] == "draining: maintenance"
    assert listed["by_status"] == {  # type: ignore[index]
        "registering": 0,
        "ready": 2,
        "degraded": 0,
        "draining": 1,
        "offline": 0,
    }

    table = await run_cli("nodes", env=env)
    assert table.code == 0, table.stderr
    lines = {
        node_id: line
        for node_id in records
        for line in table.stdout.splitlines()
        if node_id in line
    }
    assert set(lines) == set(records)
    assert "draining: maintenance" in lines[drained_id]
    assert "1/4" in lines[busy_id] and "en→zh, zh→en" in lines[busy_id]
    assert "en→de" in lines[idle_id] and "yes" in lines[idle_id]
    for peer in (busy, idle, drained, session):
        await peer.close()


async def test_node_shows_its_history_and_an_unknown_node_is_one_line(
    suite: InProcessSuite,
) -> None:
    env = suite_env(suite)
    peer, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")

    shown = (await run_cli("node", node_id, "--json", env=env)).json()
    assert shown["node_id"] == node_id and shown["status"] == "ready"  # type: ignore[index]
    assert any(" ready " in entry for entry in shown["history"])  # type: ignore[index]
    table = await run_cli("node", node_id, env=env)
    assert node_id in table.stdout and "zh→en" in table.stdout

    missing = await run_cli("node", "no-such-node", env=env)
    assert missing.code == 1
    assert missing.stdout == ""
    assert missing.stderr.count("\n") == 1
    assert missing.stderr.startswith("lingua: node no-such-node:")
    assert "NOT_FOUND" in missing.stderr
    await peer.close()


async def test_drain_stops_new_jobs_for_the_node(suite: InProcessSuite) -> None:
    env = suite_env(suite)
    first, first_id = await registered_node(suite.ws_url())
    second, second_id = await registered_node(suite.ws_url())
    for node_id in (first_id, second_id):
        await wait_status(suite, node_id, "ready")

    drained = (await run_cli("drain", first_id, "--json", env=env)).json()
    assert drained == {"node_id": first_id, "status": "draining"}
    assert (await registry_nodes(suite))[first_id].status == node_pb2.NODE_STATUS_DRAINING
    session, session_id = await open_session(suite.ws_url())
    for index in range(3):
        await session.send(utterance_message(session_id, index, b"audio"))
    jobs = await assigned(second, 3)
    assert {job["utterance_index"] for job in jobs} == {0, 1, 2}
    on_first = await list_jobs(suite, node_id=first_id)
    assert on_first == []
    for peer in (first, second, session):
        await peer.close()


# --- pools ---------------------------------------------------------------------------------


async def test_pools_shows_nodes_free_slots_and_waiting_jobs_per_pair(
    suite: InProcessSuite,
) -> None:
    env = suite_env(suite)
    full, full_id = await registered_node(suite.ws_url(), [("zh", "en")])
    both, both_id = await registered_node(suite.ws_url(), [("en", "de"), ("de", "en")])
    for node_id in (full_id, both_id):
        await wait_status(suite, node_id, "ready")
    session, session_id = await open_session(suite.ws_url())
    for index in range(5):  # four fill the node's slots, the fifth waits
        await session.send(utterance_message(session_id, index, b"audio"))
    await assigned(full, 4)
    waiting = [
        j
        for j in await list_jobs(suite, session_id=session_id)
        if j.state == job_pb2.JOB_STATE_PENDING
    ]
    assert len(waiting) == 1

    rows = {row["pair"]: row for row in (await run_cli("pools", "--json", env=env)).json()["pools"]}  # type: ignore[index]
    assert set(rows) == {"zh→en", "en→de", "de→en", "de↔en"}
    assert rows["zh→en"] | {"shards": 1} == {
        "src": "zh",
        "tgt": "en",
        "two_way": False,
        "pair": "zh→en",
        "shards": 1,
        "nodes": 1,
        "ready_nodes": 1,
        "running": 4,
        "capacity": 4,
        "free_slots": 0,
        "waiting": 1,
    }
    assert rows["en→de"]["free_slots"] == rows["de→en"]["free_slots"] == 4
    assert rows["en→de"]["waiting"] == 0
    assert rows["de↔en"]["two_way"] and rows["de↔en"]["nodes"] == 1
    # The same numbers as the services: the registry's slots, the dispatchers' waiting line.
    records = await registry_nodes(suite)
    assert records[full_id].running_jobs == records[full_id].max_jobs == 4
    samples = await scrape(*(app.ports["metrics"] for app in suite.dispatcher_apps))
    # Each replica reads the same line from Redis, so the sum over both counts it twice.
    by_pair = samples.get("lingua_pending_jobs_by_pair", src_lang="zh", tgt_lang="en")
    assert by_pair == len(suite.dispatcher_apps) * rows["zh→en"]["waiting"]

    table = await run_cli("pools", env=env)
    line = next(line for line in table.stdout.splitlines() if "zh→en" in line)
    assert line.split("│")[1:-1] == [
        " zh→en ",
        "     1 ",
        "     1 ",
        "              4/4 ",
        "          0 ",
        "       1 ",
    ]
    for peer in (full, both, session):
        await peer.close()


# --- jobs ----------------------------------------------------------------------------------


async def test_jobs_job_and_cancel_match_the_dispatcher(suite: InProcessSuite) -> None:
    env = {**suite_env(suite), "LINGUA_TRACE_URL": "http://jaeger.local/trace/{trace_id}"}
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    session, session_id = await open_session(suite.ws_url())
    for index in range(2):
        await session.send(utterance_message(session_id, index, b"audio"))
    await assigned(node, 2)

    listed = (await run_cli("jobs", "--session", session_id, "--json", env=env)).json()
    expected = await list_jobs(suite, session_id=session_id)
    assert [j["job_id"] for j in listed["jobs"]] == [j.job_id for j in expected]  # type: ignore[index]
    assert all(j["state"] == "dispatched" and j["node_id"] == node_id for j in listed["jobs"])  # type: ignore[index]
    by_node = (await run_cli("jobs", "--node", node_id, "--json", env=env)).json()
    assert {j["job_id"] for j in by_node["jobs"]} == {j.job_id for j in expected}  # type: ignore[index]
    none_completed = (await run_cli("jobs", "--state", "completed", "--json", env=env)).json()
    assert none_completed == {"jobs": []}

    job_id = expected[0].job_id
    shown = (await run_cli("job", job_id, "--json", env=env)).json()
    assert shown["trace_id"] == expected[0].trace_id and len(expected[0].trace_id) == 32  # type: ignore[index]
    assert shown["trace_url"] == f"http://jaeger.local/trace/{expected[0].trace_id}"  # type: ignore[index]
    panel = await run_cli("job", job_id, env=env)
    assert expected[0].trace_id in panel.stdout and "jaeger.local/trace/" in panel.stdout

    cancelled = (await run_cli("cancel", job_id, "--json", env=env)).json()
    assert cancelled["state"] == "cancelled"  # type: ignore[index]
    assert (await list_jobs(suite, state=job_pb2.JOB_STATE_CANCELLED))[0].job_id == job_id

    bad = await run_cli("jobs", "--state", "finished", env=env)
    assert bad.code == 1 and "unknown job state 'finished'" in bad.stderr
    for peer in (node, session):
        await peer.close()


# --- submit and watch ------------------------------------------------------------------------


def write_wav(path: Path, samples: bytes, rate: int = 16_000) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples)


async def test_submit_sends_a_wav_through_the_team_api_and_prints_the_result(
    suite: InProcessSuite, tmp_path: Path
) -> None:
    env = suite_env(suite)
    node = FakeNode(NodeConfig(url=suite.ws_url(), pairs=(("zh", "en"),), processing_ms=20))
    node.start()
    await node.wait_registered(5)
    assert node.node_id is not None
    await wait_status(suite, node.node_id, "ready")
    samples = bytes(range(256)) * 64
    write_wav(tmp_path / "hello.wav", samples)
    expected = payload.translated_text_from_asr(payload.asr_text_for(samples), "en")

    shown = await run_cli(
        "submit", str(tmp_path / "hello.wav"), "--from", "zh", "--to", "en", env=env
    )
    assert shown.code == 0, shown.stderr
    assert "dispatched" in shown.stdout and "completed" in shown.stdout
    assert expected in shown.stdout

    result = (
        await run_cli(
            "submit",
            str(tmp_path / "hello.wav"),
            "--from",
            "zh",
            "--to",
            "en",
            "--request-id",
            "cli-test/1",
            "--json",
            env=env,
        )
    ).json()
    assert result["state"] == "completed" and result["node_id"] == node.node_id  # type: ignore[index]
    assert result["result"]["text_translated"] == expected  # type: ignore[index]
    kinds = [event["event"] for event in result["events"]]  # type: ignore[index]
    assert kinds[0] == "dispatched" and kinds[-1] == "completed"
    stored = await run_cli("job", result["job_id"], "--json", env=env)  # type: ignore[index]
    assert stored.json()["result"]["text_translated"] == expected  # type: ignore[index]

    watched = (await run_cli("watch", result["job_id"], "--json", env=env)).json()  # type: ignore[index]
    assert watched["state"] == "completed" and watched["events"][-1]["event"] == "completed"  # type: ignore[index]

    (tmp_path / "notes.txt").write_text("not audio")
    refused = await run_cli(
        "submit", str(tmp_path / "notes.txt"), "--from", "zh", "--to", "en", env=env
    )
    assert refused.code == 1
    assert (
        refused.stderr
        == "lingua: notes.txt: not a WAV or Ogg Opus file (raw PCM16 needs a .pcm name)\n"
    )
    await node.stop()


async def test_a_failed_job_is_shown_with_its_error_and_a_failing_exit_code(
    suite: InProcessSuite, tmp_path: Path
) -> None:
    env = suite_env(suite)
    write_wav(tmp_path / "a.wav", b"\x00\x01" * 800)
    unserved = await run_cli(
        "submit", str(tmp_path / "a.wav"), "--from", "xx", "--to", "yy", env=env
    )
    assert unserved.code == 1
    assert unserved.stderr == (
        "lingua: submitting the job: no node available for xx->yy (UNAVAILABLE) "
        "[NO_AVAILABLE_NODE]\n"
    )

    node = FakeNode(NodeConfig(url=suite.ws_url(), pairs=(("zh", "en"),), failure_rate=1.0))
    node.start()
    await node.wait_registered(5)
    assert node.node_id is not None
    await wait_status(suite, node.node_id, "ready")
    failed = await run_cli(
        "submit", str(tmp_path / "a.wav"), "--from", "zh", "--to", "en", "--json", env=env
    )
    assert failed.code == 1, failed.stderr
    body = orjson.loads(failed.stdout)
    assert body["state"] == "failed" and body["events"][-1]["event"] == "failed"
    assert body["error"]["code"]
    assert body == orjson.loads(
        (await run_cli("job", body["job_id"], "--json", env=env)).stdout
    ) | {"events": body["events"]}
    await node.stop()


# --- top -------------------------------------------------------------------------------------


async def test_top_reads_load_from_metrics_and_nodes_from_the_registry(
    suite: InProcessSuite,
) -> None:
    env = suite_env(suite)
    node, node_id = await registered_node(suite.ws_url())
    await wait_status(suite, node_id, "ready")
    session, session_id = await open_session(suite.ws_url())
    for index in range(5):
        await session.send(utterance_message(session_id, index, b"audio"))
    await assigned(node, 4)
    # Everything happened before top looks: its rates are increases, so nothing now.
    frame = (await run_cli("top", "--once", "--interval", "0.3", "--json", env=env)).json()
    assert frame["jobs_per_s"] == 0.0  # type: ignore[index]
    assert frame["nodes_by_status"]["ready"] == 1  # type: ignore[index]
    assert frame["waiting_total"] == 1  # type: ignore[index]
    assert frame["waiting_by_pair"] == [{"src": "zh", "tgt": "en", "waiting": 1}]  # type: ignore[index]
    assert frame["busy_nodes"] == [{"node_id": node_id, "running": 4, "max_jobs": 4}]  # type: ignore[index]
    assert frame["connections"] == {"node": 1, "session": 1}  # type: ignore[index]
    view = await run_cli("top", "--once", "--interval", "0.3", env=env)
    assert "jobs/s" in view.stdout and "zh→en" in view.stdout and node_id in view.stdout
    no_metrics = {k: v for k, v in env.items() if k != "LINGUA_METRICS_URLS"}
    refused = await run_cli("top", "--once", env=no_metrics)
    assert refused.code == 1 and "LINGUA_METRICS_URLS" in refused.stderr
    for peer in (node, session):
        await peer.close()


# --- finding the stack -------------------------------------------------------------------------


async def test_the_local_stack_file_is_found_without_flags(
    suite: InProcessSuite, tmp_path: Path
) -> None:
    peer, node_id = await registered_node(suite.ws_url())
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    entries = {
        "registry": [discovery.ServiceEntry("registry", grpc=grpc_address(suite.registry))],
        "pool": [discovery.ServiceEntry("pool", grpc=grpc_address(suite.pool))],
        "dispatcher": [
            discovery.ServiceEntry(
                f"dispatcher-{i}", grpc=grpc_address(app), team=team_address(app)
            )
            for i, app in enumerate(suite.dispatcher_apps)
        ],
    }
    discovery.write(run_dir / "stack.json", os.getpid(), "", entries, {"auth_disabled": True})
    found = await run_cli("nodes", "--json", env={"LINGUA_STACK_FILE": str(run_dir / "stack.json")})
    assert [row["node_id"] for row in found.json()["nodes"]] == [node_id]  # type: ignore[index]
    # The dispatcher's team API is found at its own address (the stack file's "team").
    jobs = await run_cli("jobs", "--json", env={"LINGUA_STACK_FILE": str(run_dir / "stack.json")})
    assert jobs.code == 0, jobs.stderr

    # A stack whose launcher is gone is reported, not tried.
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    discovery.write(run_dir / "stack.json", dead.pid, "", entries, {})
    stale = await run_cli("nodes", env={"LINGUA_STACK_FILE": str(run_dir / "stack.json")})
    assert stale.code == 1
    assert f"its launcher, pid {dead.pid}, has exited" in stale.stderr

    nothing = await run_cli("nodes", env={"LINGUA_STACK_FILE": str(tmp_path / "none.json")})
    assert nothing.code == 1 and "does not exist" in nothing.stderr
    await peer.close()


async def test_no_address_at_all_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nowhere to find a stack file (not even a developer's own `make up` in this tree).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(discovery, "REPO_ROOT", tmp_path)
    result = await run_cli("nodes")
    assert result.code == 1
    assert result.stderr == (
        "lingua: no registry address: pass --registry, set LINGUA_REGISTRY_ADDRESS, "
        "or start a local stack with `make up`\n"
    )
