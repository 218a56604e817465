"""The launcher's pieces that need no processes: the port check, the restart backoff
and what the environment passes to the services."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from lingua_common.env import SettingsError
from lingua_common.operator_auth import TokenTable
from tools.launcher.backoff import RestartBackoff
from tools.launcher.environment import ignored_wiring, inherited_env, launch_env
from tools.launcher.ports import port_is_free


def binds_without_reuseaddr(port: int) -> bool:
    """The check the launcher used to make."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def leave_time_wait() -> int:
    """A port whose server side closed a connection first (as a gateway answering
    GET /healthz does), then stopped listening: it lingers in TIME_WAIT."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port: int = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server closes first: TIME_WAIT is on its side
    client.recv(1)  # sees the FIN
    client.close()
    listener.close()
    return port


def test_a_port_in_time_wait_is_free_for_a_service() -> None:
    port = leave_time_wait()
    assert not binds_without_reuseaddr(port), "precondition: the port lingers in TIME_WAIT"
    assert port_is_free(port)


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        assert not port_is_free(listener.getsockname()[1])


def test_backoff_doubles_up_to_its_cap_and_is_forgiven_after_a_stable_run() -> None:
    backoff = RestartBackoff(first_s=0.5, max_s=4.0, stable_s=30.0)
    backoff.started(100.0)
    delays = []
    for i in range(6):  # crashes right after each start
        delays.append(backoff.next_delay(101.0 + i))
        backoff.started(101.0 + i)
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    # Up for 30 s since its last start: the next crash starts over.
    assert backoff.next_delay(106.0 + 30.0) == 0.5


def test_every_lingua_setting_passes_through_but_the_wiring() -> None:
    environ = {
        "LINGUA_MAX_FRAME_BYTES": "2048",
        "LINGUA_LOG_LEVEL": "DEBUG",
        "LINGUA_GRPC_PORT": "50051",
        "LINGUA_REDIS_URL": "redis://elsewhere:6379/0",
        "HOME": "/root",
    }
    launch = launch_env(environ)
    assert launch.services["LINGUA_MAX_FRAME_BYTES"] == "2048"
    assert launch.services["LINGUA_LOG_LEVEL"] == "DEBUG"
    assert "LINGUA_GRPC_PORT" not in launch.services
    assert "HOME" not in launch.services
    assert ignored_wiring(environ) == ["LINGUA_GRPC_PORT", "LINGUA_REDIS_URL"]
    assert inherited_env(environ) == {
        "LINGUA_MAX_FRAME_BYTES": "2048",
        "LINGUA_LOG_LEVEL": "DEBUG",
        "HOME": "/root",
    }


def test_auth_is_off_by_default_for_the_local_run() -> None:
    launch = launch_env({})
    assert not launch.auth_on
    assert launch.services["LINGUA_AUTH_DISABLED"] == "true"


def test_credentials_not_given_are_generated_for_the_run(tmp_path: Path) -> None:
    launch = launch_env({"LINGUA_AUTH_DISABLED": "false", "LINGUA_NODE_TOKENS": "tok"})
    assert launch.auth_on
    services = launch.services
    # Given ones are kept; the others are generated, and every service gets them.
    assert services["LINGUA_NODE_TOKENS"] == "tok" and launch.node_token == "tok"
    assert len(services["LINGUA_SERVICE_TOKEN"]) >= 32
    assert launch.client_key and services["LINGUA_CLIENT_API_KEYS"] == launch.client_key
    table = TokenTable.parse(services["LINGUA_TEAM_TOKENS"])
    team_token, tenant = launch.credentials.team
    assert tenant == "local" and table.lookup(team_token).tenant == "local"  # type: ignore[union-attr]
    assert table.lookup(launch.credentials.operator_token).operator  # type: ignore[union-attr]
    # Another run, other secrets.
    assert launch_env({}).services["LINGUA_SERVICE_TOKEN"] != services["LINGUA_SERVICE_TOKEN"]
    # Written for the user only, and for the `lingua` command.
    launch.credentials.write(tmp_path)
    env_file = tmp_path / "credentials.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert f"LINGUA_API_TOKEN={team_token}\n" in env_file.read_text()
    assert (tmp_path / "team.token").read_text() == team_token + "\n"
    tools = launch.credentials.for_tools(auth_disabled=False)
    assert tools["api_token"] == launch.credentials.operator_token
    assert tools["service_token"] == services["LINGUA_SERVICE_TOKEN"]
    launch.credentials.remove(tmp_path)
    assert not list(tmp_path.iterdir())


def test_malformed_or_retired_credentials_are_refused_naming_them() -> None:
    with pytest.raises(SettingsError, match="LINGUA_CLIENT_API_KEYS"):
        launch_env({"LINGUA_AUTH_DISABLED": "false", "LINGUA_CLIENT_API_KEYS": ":acme"})
    with pytest.raises(SettingsError, match="LINGUA_TEAM_TOKENS"):
        launch_env({"LINGUA_TEAM_TOKENS": "no-tenant"})
    with pytest.raises(SettingsError, match="LINGUA_TEAM_TOKENS"):
        launch_env({"LINGUA_CONSOLE_TOKENS": "x:*"})


def test_a_malformed_auth_switch_is_refused() -> None:
    with pytest.raises(SettingsError, match="LINGUA_AUTH_DISABLED"):
        launch_env({"LINGUA_AUTH_DISABLED": "maybe"})
