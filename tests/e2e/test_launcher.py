"""`make up`'s launcher supervises: a service killed with -9 comes back on its ports; a
TERM to the launcher or to make's process group stops every child, a SIGKILL to the
launcher takes them with it; a stop and an immediate start work; auth is what the
environment says."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import urllib.request
from pathlib import Path

import grpc
import orjson
import pytest
import websockets
from grpc_health.v1 import health_pb2, health_pb2_grpc
from websockets.exceptions import InvalidStatus

from tests import grpcurl
from tests.e2e.launcher_run import LauncherRun, alive, cleaned_up, ready_info, wait_until
from tools.launcher.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SERVICES = ("pool", "registry", "dispatcher-0", "gateway-0", "console-0")


def ports_of(run_dir: Path, name: str) -> dict[str, int]:
    ports = ready_info(run_dir, name)["ports"]
    assert isinstance(ports, dict)
    return {str(k): int(v) for k, v in ports.items()}


def pid_of(run_dir: Path, name: str) -> int:
    pid = ready_info(run_dir, name)["pid"]
    assert isinstance(pid, int)
    return pid


def serving(grpc_port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def healthz(ws_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{ws_port}/healthz", timeout=5) as reply:
        return int(reply.status)


def redis_port(run: LauncherRun) -> int:
    line = next(line for line in run.lines if line.startswith("lingua: redis"))
    return int(line.rsplit(":", 1)[1].split("/")[0])


def redis_pings(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def test_services_killed_with_9_come_back_on_their_ports_and_term_stops_all(
    tmp_path: Path,
) -> None:
    run = LauncherRun.launcher(tmp_path, "--ws-port", "0", "--gateways", "1")
    with cleaned_up(run) as seen:
        run.wait_for("lingua: ready")
        before = {name: ports_of(tmp_path, name) for name in SERVICES}
        seen.update(run.descendants())
        redis = redis_port(run)

        for name in ("registry", "gateway-0"):
            old = pid_of(tmp_path, name)
            os.kill(old, signal.SIGKILL)
            run.wait_for(f"lingua: {name} is back")
            assert run.said(f"lingua: {name} killed by signal 9; restarting in")
            assert pid_of(tmp_path, name) != old
            assert ports_of(tmp_path, name) == before[name]
        assert serving(before["registry"]["grpc"])
        assert healthz(before["gateway-0"]["ws"]) == 200

        redis_pid = next(p for p in run.descendants() if "redis-server" in _cmdline(p))
        os.kill(redis_pid, signal.SIGKILL)
        run.wait_for("lingua: redis is back")
        assert redis_pings(redis)

        seen.update(run.descendants())
        os.kill(run.process.pid, signal.SIGTERM)
        assert run.wait_exit() == 0, run.output
        assert "lingua: stopped" in run.output
        wait_until(lambda: not any(alive(p) for p in seen), 10, "every child to be gone")


def test_a_sigkilled_launcher_takes_its_children_with_it(tmp_path: Path) -> None:
    run = LauncherRun.launcher(tmp_path, "--ws-port", "0", "--gateways", "1")
    with cleaned_up(run) as seen:
        run.wait_for("lingua: ready")
        seen.update(run.descendants())
        assert len(seen) == 1 + len(SERVICES)  # redis-server and the services
        os.kill(run.process.pid, signal.SIGKILL)
        run.wait_exit()
        wait_until(lambda: not any(alive(p) for p in seen), 10, "the children to die")


def test_term_to_makes_process_group_stops_everything_and_a_new_start_works_at_once(
    tmp_path: Path,
) -> None:
    port = free_port()
    first = LauncherRun.make_up(tmp_path / "first", port)
    with cleaned_up(first) as seen:
        first.wait_for("lingua: ready")
        seen.update(first.descendants())
        assert healthz(port) == 200  # the server closes this one: TIME_WAIT on its side
        os.killpg(first.process.pid, signal.SIGTERM)
        first.wait_exit()
        assert "lingua: stopped" in first.output
        assert "non-zero exits" not in first.output, first.output
        wait_until(lambda: not any(alive(p) for p in seen), 10, "every child to be gone")
    assert not _binds_without_reuseaddr(port), "precondition: the port is in TIME_WAIT"

    second = LauncherRun.make_up(tmp_path / "second", port)
    with cleaned_up(second) as seen:
        second.wait_for("lingua: ready")
        seen.update(second.descendants())
        assert healthz(port) == 200
        os.killpg(second.process.pid, signal.SIGINT)
        second.wait_exit()
        wait_until(lambda: not any(alive(p) for p in seen), 10, "every child to be gone")


async def test_auth_asked_for_without_credentials_runs_with_generated_ones(
    tmp_path: Path,
) -> None:
    run = LauncherRun.launcher(
        tmp_path, "--ws-port", "0", "--gateways", "1", env={"LINGUA_AUTH_DISABLED": "false"}
    )
    with cleaned_up(run) as seen:
        await asyncio.to_thread(run.wait_for, "press Ctrl-C")
        seen.update(run.descendants())
        credentials = orjson.loads((tmp_path / "stack.json").read_bytes())["credentials"]
        assert credentials["auth_disabled"] is False
        # The printed grpcurl line works as printed (the token comes from run/team.token)…
        line = next(x for x in run.lines if x.startswith("lingua: team API  grpcurl"))
        command = line.removeprefix("lingua: team API  ").strip()
        assert grpcurl.call(command) == {}  # no job of tenant "local" yet
        # …and without its token it is refused.
        anonymous = command.replace(f'-H "authorization: Bearer $(cat {tmp_path}/team.token)" ', "")
        assert anonymous != command
        with pytest.raises(grpc.RpcError) as refused:
            grpcurl.call(anonymous)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        # The team's token opens nothing of the service-to-service API.
        registry = f"127.0.0.1:{ports_of(tmp_path, 'registry')['grpc']}"
        with pytest.raises(grpc.RpcError) as wrong_api:
            grpcurl.call(
                f'grpcurl -plaintext -H "authorization: Bearer {credentials["team_token"]}" '
                f"{registry} lingua.registry.v1.RegistryService/ListNodes"
            )
        assert wrong_api.value.code() is grpc.StatusCode.PERMISSION_DENIED
        # The gateway asks for the generated client key.
        url = f"ws://127.0.0.1:{ports_of(tmp_path, 'gateway-0')['ws']}/ws/session"
        with pytest.raises(InvalidStatus):
            async with websockets.connect(url):
                pass
        async with websockets.connect(f"{url}?api_key={credentials['client_key']}") as ws:
            assert ws.protocol.state.name == "OPEN"
        os.kill(run.process.pid, signal.SIGTERM)
        assert await asyncio.to_thread(run.wait_exit) == 0
    # The credentials do not outlive the run.
    assert not (tmp_path / "credentials.env").exists()
    assert not (tmp_path / "team.token").exists()


async def test_auth_asked_for_with_credentials_is_on(tmp_path: Path) -> None:
    env = {
        "LINGUA_AUTH_DISABLED": "false",
        "LINGUA_NODE_TOKENS": "node-secret",
        "LINGUA_CLIENT_API_KEYS": "client-secret:acme",
    }
    run = LauncherRun.launcher(tmp_path, "--ws-port", "0", "--gateways", "1", env=env)
    with cleaned_up(run) as seen:
        await asyncio.to_thread(run.wait_for, "lingua: ready")
        seen.update(run.descendants())
        url = f"ws://127.0.0.1:{ports_of(tmp_path, 'gateway-0')['ws']}/ws/session"
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url):
                pass
        assert refused.value.response.status_code == 401
        async with websockets.connect(f"{url}?api_key=client-secret") as ws:
            assert ws.protocol.state.name == "OPEN"
        os.kill(run.process.pid, signal.SIGTERM)
        assert await asyncio.to_thread(run.wait_exit) == 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _binds_without_reuseaddr(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
