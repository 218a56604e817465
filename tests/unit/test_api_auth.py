"""Who a call's credentials make its caller, on each API (api_auth.py), and where the
credentials come from (environment or mounted Secret files)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from lingua_common.api_auth import (
    OPEN,
    SERVICE,
    ApiAuthSettings,
    Authenticator,
    Caller,
    Refusal,
)
from lingua_common.env import SettingsError
from lingua_common.operator_auth import TokenTable

SETTINGS = ApiAuthSettings(service_token="svc", team_tokens=TokenTable.parse("acme-t:acme,op-t:*"))


def caller(
    api: str, token: str = "", *, settings: ApiAuthSettings = SETTINGS, cn: str = ""
) -> Caller:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    return Authenticator(settings, api).caller(metadata, cn)  # type: ignore[arg-type]


def refused(api: str, token: str = "", *, settings: ApiAuthSettings = SETTINGS) -> Refusal:
    with pytest.raises(Refusal) as refusal:
        caller(api, token, settings=settings)
    return refusal.value


def test_the_service_api_takes_the_service_credential_only() -> None:
    assert caller("service", "svc") == SERVICE
    assert refused("service").status is grpc.StatusCode.UNAUTHENTICATED
    assert refused("service", "guess").status is grpc.StatusCode.UNAUTHENTICATED
    for team_token in ("acme-t", "op-t"):  # not even an operator's
        denied = refused("service", team_token)
        assert denied.status is grpc.StatusCode.PERMISSION_DENIED
        assert denied.reason == "team_token"


def test_the_team_api_takes_team_tokens_certificates_and_the_service_credential() -> None:
    assert caller("team", "acme-t") == Caller("team", "acme")
    assert caller("team", "op-t").operator
    assert caller("team", "svc") == SERVICE and SERVICE.operator
    assert caller("team", cn="globex") == Caller("team", "globex")
    assert caller("team", "acme-t", cn="globex") == Caller("team", "acme")  # the token decides
    assert refused("team").reason == "missing"
    assert refused("team", "guess").reason == "wrong"
    assert "guess" not in refused("team", "guess").message  # never echoed


def test_with_auth_disabled_everyone_is_let_in_but_a_team_token_still_scopes() -> None:
    open_settings = ApiAuthSettings(disabled=True, team_tokens=SETTINGS.team_tokens)
    assert caller("service", settings=open_settings) == OPEN
    assert caller("service", "acme-t", settings=open_settings) == OPEN
    assert caller("team", settings=open_settings) == OPEN
    assert caller("team", "guess", settings=open_settings) == OPEN
    assert caller("team", "acme-t", settings=open_settings) == Caller("team", "acme")


def test_credentials_come_from_the_environment_or_mounted_secret_files(tmp_path: Path) -> None:
    (tmp_path / "service").write_text("from-file\n")
    (tmp_path / "teams").write_text("t1:acme\n")
    settings = ApiAuthSettings.from_env(
        {
            "LINGUA_SERVICE_TOKEN_FILE": str(tmp_path / "service"),
            "LINGUA_TEAM_TOKENS_FILE": str(tmp_path / "teams"),
        }
    )
    assert settings.service_token == "from-file" and not settings.disabled
    assert settings.team_tokens.lookup("t1").tenant == "acme"  # type: ignore[union-attr]
    assert "from-file" not in repr(settings)  # secrets stay out of logs
    with pytest.raises(SettingsError, match="not both"):
        ApiAuthSettings.from_env(
            {"LINGUA_SERVICE_TOKEN": "x", "LINGUA_SERVICE_TOKEN_FILE": str(tmp_path / "service")}
        )
    with pytest.raises(SettingsError, match="LINGUA_TLS_CERT_FILE and LINGUA_TLS_KEY_FILE"):
        ApiAuthSettings.from_env({"LINGUA_TLS_CERT_FILE": "cert.pem"})


def test_a_service_will_not_start_without_its_credential_unless_auth_is_off() -> None:
    with pytest.raises(SettingsError, match="LINGUA_SERVICE_TOKEN"):
        ApiAuthSettings.from_env({}).validate()
    ApiAuthSettings.from_env({"LINGUA_AUTH_DISABLED": "true"}).validate()
    ApiAuthSettings.from_env({"LINGUA_SERVICE_TOKEN": "s"}).validate()
