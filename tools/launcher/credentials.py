"""Local credentials for one run of the stack (`make up`): generated unless the
environment gives them, handed to every service, written to the run directory
(`credentials.env`, `team.token`; mode 0600) and into `run/stack.json` for the `lingua`
command.

- the service credential (LINGUA_SERVICE_TOKEN): what the services present to each
  other (the service-to-service API);
- a team token for the local tenant `local`, and an operator's team token (tenant `*`:
  the console's sign-in, and what `lingua` presents on the team API) — LINGUA_TEAM_TOKENS;
- a node token (LINGUA_NODE_TOKENS) and a client API key (LINGUA_CLIENT_API_KEYS, no
  tenant) for the gateways.

With authentication off (the local default) the services take these but do not ask for
them; a team token presented still scopes its caller to its tenant.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lingua_common.operator_auth import OPERATOR_TENANT
from services.gateway.settings import parse_client_keys, parse_node_tokens

LOCAL_TENANT = "local"
ENV_FILE = "credentials.env"
TEAM_TOKEN_FILE = "team.token"


def _token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class LocalCredentials:
    service_token: str = field(repr=False)
    team_tokens: str = field(repr=False)  # LINGUA_TEAM_TOKENS
    node_tokens: str = field(repr=False)  # LINGUA_NODE_TOKENS
    client_keys: str = field(repr=False)  # LINGUA_CLIENT_API_KEYS

    @classmethod
    def generate(cls) -> LocalCredentials:
        return cls.from_env({})

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalCredentials:
        """The environment's credentials; each one it does not give, generated."""
        return cls(
            service_token=env.get("LINGUA_SERVICE_TOKEN") or _token(),
            team_tokens=env.get("LINGUA_TEAM_TOKENS")
            or f"{_token()}:{LOCAL_TENANT},{_token()}:{OPERATOR_TENANT}",
            node_tokens=env.get("LINGUA_NODE_TOKENS") or _token(),
            client_keys=env.get("LINGUA_CLIENT_API_KEYS") or _token(),
        )

    def env(self) -> dict[str, str]:
        """What every service is started with."""
        return {
            "LINGUA_SERVICE_TOKEN": self.service_token,
            "LINGUA_TEAM_TOKENS": self.team_tokens,
            "LINGUA_NODE_TOKENS": self.node_tokens,
            "LINGUA_CLIENT_API_KEYS": self.client_keys,
        }

    def _team_entries(self) -> list[tuple[str, str]]:
        entries = []
        for item in self.team_tokens.split(","):
            token, sep, tenant = item.strip().rpartition(":")
            if sep and token:
                entries.append((token, tenant))
        return entries

    @property
    def team(self) -> tuple[str, str]:
        """(token, tenant) of the first team that is not an operator ("", "" if none)."""
        return next(((t, n) for t, n in self._team_entries() if n != OPERATOR_TENANT), ("", ""))

    @property
    def operator_token(self) -> str:
        return next((t for t, n in self._team_entries() if n == OPERATOR_TENANT), "")

    @property
    def node_token(self) -> str:
        return next(iter(parse_node_tokens(self.node_tokens)), "")

    @property
    def client_key(self) -> str:
        return next((key for key, _ in parse_client_keys(self.client_keys)), "")

    def for_tools(self, auth_disabled: bool) -> dict[str, object]:
        """The discovery file's "credentials" (tools/discovery.py)."""
        team_token, tenant = self.team
        return {
            "auth_disabled": auth_disabled,
            "service_token": self.service_token,
            "api_token": self.operator_token,
            "team_token": team_token,
            "team_tenant": tenant,
            "node_token": self.node_token,
            "client_key": self.client_key,
            "console_token": self.operator_token,
        }

    def write(self, run_dir: Path) -> None:
        """credentials.env (`set -a; . run/credentials.env`) and team.token, only for the
        local user."""
        team_token, _ = self.team
        lines = [f"{name}={value}" for name, value in self.env().items()]
        lines += [f"LINGUA_API_TOKEN={team_token}"]
        _private(run_dir / ENV_FILE, "\n".join(lines) + "\n")
        _private(run_dir / TEAM_TOKEN_FILE, team_token + "\n")

    @staticmethod
    def remove(run_dir: Path) -> None:
        for name in (ENV_FILE, TEAM_TOKEN_FILE):
            (run_dir / name).unlink(missing_ok=True)


def _private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)
