"""A fresh process that knows only the README can start the suite, call the team API with
the token `make up` made (the README's grpcurl lines, through tests/grpcurl.py), and stop
it cleanly."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests import grpcurl
from tools.launcher.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]


def sh_blocks(heading: str) -> list[str]:
    """The ```sh blocks of a README section (indented ones too)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^( *)```sh\n(.*?)^ *```", section, re.S | re.M)
    return [re.sub(rf"^{indent}", "", body, flags=re.M) for indent, body in blocks]


def readme_grpcurl_calls(run_dir: Path, team_port: int) -> list[list[str]]:
    """Every grpcurl command the README shows, as bash expands it for this run."""
    script = "\n".join(
        block
        for heading in ("Quick start", "Calling the dispatcher from another service")
        for block in sh_blocks(heading)
        if "grpcurl" in block
    )
    script = script.replace("run/", f"{run_dir}/").replace(
        "127.0.0.1:50055", f"127.0.0.1:{team_port}"
    )
    return grpcurl.run_sh(script, run_dir)


def quickstart_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the Quick start section has a sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_names_the_two_commands() -> None:
    assert quickstart_commands() == ["make up", "make test"]


def test_make_up_from_the_readme_starts_healthy_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    start_command = quickstart_commands()[0]
    # 5010 may be taken on a shared machine; the README documents WS_PORT for that.
    # So may the console's 8090 (CONSOLE_PORT, documented beside it).
    # And the team API's 50055 (TEAM_PORT).
    team_port = free_port()
    command = (
        f"{start_command} WS_PORT={free_port()} CONSOLE_PORT={free_port()} "
        f"TEAM_PORT={team_port} RUN_DIR={tmp_path}"
    )
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "press Ctrl-C" in line:
            break
    assert any("lingua: ready" in line for line in lines), "".join(lines)
    pids = [orjson.loads(p.read_bytes())["pid"] for p in tmp_path.glob("*.ready.json")]
    assert len(pids) == 6  # pool, registry, dispatcher, two gateways, console
    # It says where the console is and how to use the `lingua` command, which then finds
    # the stack by itself (the discovery file in the run directory).
    console = next(line for line in lines if line.startswith("lingua: console "))
    url = console.split()[2]
    with urllib.request.urlopen(url, timeout=10) as page:
        assert b"Lingua scheduler" in page.read()
    example = next(line for line in lines if line.startswith("lingua: try"))
    assert ".venv/bin/lingua nodes" in example
    nodes = subprocess.run(
        [str(REPO / ".venv" / "bin" / "lingua"), "nodes", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LINGUA_STACK_FILE": str(tmp_path / "stack.json")},
        check=False,
    )
    assert nodes.returncode == 0, nodes.stderr
    assert orjson.loads(nodes.stdout)["nodes"] == []
    try:
        check_the_team_api(lines, tmp_path, team_port)
    except BaseException:
        os.killpg(process.pid, signal.SIGINT)  # leave nothing running behind a failure
        process.communicate(timeout=60)
        raise
    # Ctrl-C in a terminal reaches make and the launcher (one process group).
    os.killpg(process.pid, signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        # Leave nothing behind for the tests after this one, then fail with what it said.
        os.killpg(process.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        rest, _ = process.communicate()
        raise AssertionError("make up did not stop on Ctrl-C:\n" + "".join(lines) + rest) from None
    output = "".join(lines) + rest
    # The launcher exits 0; make itself then dies of the SIGINT (or reports 2), as usual.
    assert process.returncode in (0, 2, -signal.SIGINT), output
    assert "lingua: stopped" in output
    assert "non-zero exits" not in output, output
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"service {pid} outlived the launcher"
    assert not (tmp_path / "stack.json").exists(), "the discovery file outlived the stack"


def check_the_team_api(lines: list[str], run_dir: Path, team_port: int) -> None:
    """The grpcurl line `make up` printed, and the README's, work against this stack."""
    printed = next(x for x in lines if x.startswith("lingua: team API  grpcurl"))
    assert f"127.0.0.1:{team_port}" in printed
    assert grpcurl.call(printed.removeprefix("lingua: team API  ").strip()) == {}
    calls = readme_grpcurl_calls(run_dir, team_port)
    assert len(calls) == 4, calls  # Quick start's, then list, SubmitJob, ListJobs
    token = (run_dir / "team.token").read_text().strip()
    assert all(("authorization", f"Bearer {token}") == _header(c) for c in calls)
    assert grpcurl.call_words(calls[0]) == {}
    assert "lingua.dispatcher.v1.DispatcherService" in grpcurl.call_words(calls[1])
    # The team's job, in its tenant (no node serves zh->en under a plain `make up`: it
    # waits for one, then fails with NO_AVAILABLE_NODE).
    submitted = grpcurl.call_words(calls[2])
    assert submitted["created"] is True
    assert (submitted["job"]["tenantId"], submitted["job"]["requestId"]) == ("local", "hello/1")
    [listed] = grpcurl.call_words(calls[3])["jobs"]
    assert listed["jobId"] == submitted["job"]["jobId"]


def _header(words: list[str]) -> tuple[str, str]:
    name, _, value = words[words.index("-H") + 1].partition(":")
    return name.strip(), value.strip()
