"""Credentials: where they are read from, how they are checked, what the registry sees,
and the settings that turn auth on (and refuse to start without secrets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from websockets.datastructures import Headers

from lingua_common.env import SettingsError
from services.gateway.auth import Authenticator, AuthError, presented_credential
from services.gateway.settings import AuthSettings, GatewaySettings

REPO = Path(__file__).resolve().parents[2]
AUTH = AuthSettings(
    node_tokens=("node-secret-1", "node-secret-2"),
    client_keys=(("key-acme", "acme"), ("key-free", "")),
)


def test_a_credential_is_read_from_bearer_api_key_header_or_query() -> None:
    assert presented_credential(Headers({"Authorization": "Bearer abc"}), "/ws/node", "token") == (
        "abc"
    )
    assert presented_credential(Headers({"authorization": "bearer  abc "}), "/x", "token") == "abc"
    assert presented_credential(Headers({"X-Api-Key": "k1"}), "/ws/session", "api_key") == "k1"
    assert presented_credential(Headers(), "/ws/session?api_key=k2&x=1", "api_key") == "k2"
    assert presented_credential(Headers(), "/ws/node?token=t%2F1", "token") == "t/1"
    # Headers win over the query; the other endpoint's parameter is not read.
    assert presented_credential(
        Headers({"X-Api-Key": "h"}), "/ws/session?api_key=q", "api_key"
    ) == ("h")
    assert presented_credential(Headers(), "/ws/node?api_key=k", "token") == ""
    assert presented_credential(Headers({"Authorization": "Basic dXNlcg=="}), "/", "token") == ""


def test_nodes_need_a_configured_token_and_get_a_fingerprint_not_the_token() -> None:
    auth = Authenticator(AUTH)
    identity = auth.node(Headers({"Authorization": "Bearer node-secret-2"}), "/ws/node")
    assert identity.credential_fingerprint.startswith("hmac-sha256:")
    assert "node-secret-2" not in identity.credential_fingerprint
    # The same token gives the same fingerprint (on every replica); another one does not.
    again = auth.node(Headers(), "/ws/node?token=node-secret-2")
    other = auth.node(Headers(), "/ws/node?token=node-secret-1")
    assert again == identity and other != identity
    with pytest.raises(AuthError, match="missing node token"):
        auth.node(Headers(), "/ws/node")
    with pytest.raises(AuthError, match="invalid node token"):
        auth.node(Headers({"Authorization": "Bearer node-secret-3"}), "/ws/node")
    with pytest.raises(AuthError, match="invalid node token"):
        auth.node(Headers({"Authorization": "Bearer key-acme"}), "/ws/node")  # a client key


def test_the_fingerprint_depends_on_the_salt() -> None:
    one = Authenticator(AUTH).fingerprint("node-secret-1")
    other = Authenticator(AuthSettings(credential_salt="other", node_tokens=("x",))).fingerprint(
        "node-secret-1"
    )
    assert one != other


def test_clients_need_a_configured_key_which_carries_its_tenant() -> None:
    auth = Authenticator(AUTH)
    assert auth.client(Headers({"X-Api-Key": "key-acme"}), "/ws/session").tenant == "acme"
    assert auth.client(Headers(), "/ws/session?api_key=key-free").tenant == ""
    with pytest.raises(AuthError, match="missing API key"):
        auth.client(Headers(), "/ws/session")
    with pytest.raises(AuthError, match="invalid API key"):
        auth.client(Headers(), "/ws/session?api_key=node-secret-1")  # a node token


def test_disabled_auth_accepts_anyone() -> None:
    auth = Authenticator(AuthSettings(disabled=True))
    assert auth.node(Headers(), "/ws/node").credential_fingerprint == ""
    assert auth.client(Headers(), "/ws/session").tenant == ""


def test_settings_parse_tokens_and_keys_from_env() -> None:
    env = {
        "LINGUA_NODE_TOKENS": " t1 , t2,,t1 ",
        "LINGUA_CLIENT_API_KEYS": "k1:acme, k2 ,k3: beta",
    }
    auth = GatewaySettings.from_env(env).auth
    assert auth.node_tokens == ("t1", "t2")
    assert auth.client_keys == (("k1", "acme"), ("k2", ""), ("k3", "beta"))
    assert not auth.disabled
    assert "t1" not in repr(auth) and "k1" not in repr(auth)


def test_auth_on_without_secrets_refuses_to_start() -> None:
    with pytest.raises(SettingsError, match="LINGUA_NODE_TOKENS and LINGUA_CLIENT_API_KEYS"):
        GatewaySettings.from_env({})
    with pytest.raises(SettingsError, match="LINGUA_CLIENT_API_KEYS is empty"):
        GatewaySettings.from_env({"LINGUA_NODE_TOKENS": "t"})
    with pytest.raises(SettingsError, match="empty key"):
        GatewaySettings.from_env({"LINGUA_NODE_TOKENS": "t", "LINGUA_CLIENT_API_KEYS": ":acme"})
    assert GatewaySettings.from_env({"LINGUA_AUTH_DISABLED": "true"}).auth.disabled


def test_the_gateway_process_exits_with_a_clear_error_when_auth_has_no_secrets() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{REPO / 'gen'}"}
    done = subprocess.run(
        [sys.executable, "-m", "services.gateway"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "refusing to start" in done.stderr
    assert "LINGUA_AUTH_DISABLED=true" in done.stderr


def test_settings_validation_of_cutting_and_limits() -> None:
    with pytest.raises(SettingsError, match="BLIP_HOLD"):
        GatewaySettings.from_env({"LINGUA_AUTH_DISABLED": "1", "LINGUA_CUT_PAUSE_MS": "8000"})
    with pytest.raises(SettingsError, match="RATE_STRIKES"):
        GatewaySettings.from_env({"LINGUA_AUTH_DISABLED": "1", "LINGUA_RATE_STRIKES": "0"})
    limits = GatewaySettings.from_env(
        {
            "LINGUA_AUTH_DISABLED": "1",
            "LINGUA_SESSION_MSGS_PER_S": "2.5",
            "LINGUA_MAX_CONNECTIONS_PER_IP": "0",
        }
    ).limits
    assert (limits.session_rate.per_s, limits.max_connections_per_ip) == (2.5, 0)
