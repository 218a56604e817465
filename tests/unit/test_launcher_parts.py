"""The launcher's pieces that need no processes: the port check, the restart backoff
and what the environment passes to the services."""

from __future__ import annotations

import socket

import pytest

from lingua_common.env import SettingsError
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


def test_auth_asked_for_without_credentials_is_refused_naming_them() -> None:
    with pytest.raises(SettingsError) as both:
        launch_env({"LINGUA_AUTH_DISABLED": "false"})
    assert "LINGUA_NODE_TOKENS and LINGUA_CLIENT_API_KEYS" in str(both.value)
    with pytest.raises(SettingsError) as one:
        launch_env({"LINGUA_AUTH_DISABLED": "false", "LINGUA_NODE_TOKENS": "tok"})
    assert "LINGUA_CLIENT_API_KEYS" in str(one.value)
    assert "LINGUA_NODE_TOKENS" not in str(one.value)


def test_auth_asked_for_with_credentials_is_on_for_every_service() -> None:
    launch = launch_env(
        {
            "LINGUA_AUTH_DISABLED": "no",
            "LINGUA_NODE_TOKENS": "tok1,tok2",
            "LINGUA_CLIENT_API_KEYS": "key1:acme",
        }
    )
    assert launch.auth_on
    assert launch.services["LINGUA_AUTH_DISABLED"] == "false"
    assert (launch.node_token, launch.client_key) == ("tok1", "key1")


def test_a_malformed_auth_switch_is_refused() -> None:
    with pytest.raises(SettingsError, match="LINGUA_AUTH_DISABLED"):
        launch_env({"LINGUA_AUTH_DISABLED": "maybe"})
