"""Operator credentials: what the tools present, and the team token table.

Outgoing, for the `lingua` command and the console: gRPC metadata
`authorization: Bearer <token>` when a token is configured.
  - LINGUA_SERVICE_TOKEN: the scheduler's service credential, for the registry and the
    pool (service-to-service API); also an operator on the dispatcher's team API;
  - LINGUA_API_TOKEN: a team token, for the dispatcher's team API (TEAM_METHODS); the
    service credential is presented there when no team token is configured.
Incoming, the team tokens (LINGUA_TEAM_TOKENS, `token:tenant,token2:tenant2`, or
LINGUA_TEAM_TOKENS_FILE): the dispatcher's team API checks them (api_auth.py) and so
does the console's HTTP API. Tenant `*` is an operator, who sees every tenant and may
drain nodes and cancel jobs in the console; any other tenant only reads, and sees only
its own jobs. Every entry is compared in constant time, every time. With
LINGUA_AUTH_DISABLED=true the console is open and everyone is an operator.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from lingua_common.env import SettingsError, env_bool, env_secret, env_str
from lingua_common.limits import TENANT_PATTERN

# The dispatcher's team API (DESIGN.md "Who may call what"); everything else a tool calls
# is the service-to-service API.
TEAM_METHODS = frozenset({"SubmitJob", "GetJob", "ListJobs", "CancelJob", "WatchJob"})
OPERATOR_TENANT = "*"
AUTHORIZATION = "authorization"

Api = Literal["service", "team"]
Metadata = tuple[tuple[str, str], ...]


def api_of(method: str) -> Api:
    return "team" if method in TEAM_METHODS else "service"


@dataclass(frozen=True)
class CallCredentials:
    """What a tool presents on its gRPC calls."""

    service_token: str = ""
    api_token: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallCredentials:
        return cls(
            service_token=env_str(env, "LINGUA_SERVICE_TOKEN", ""),
            api_token=env_str(env, "LINGUA_API_TOKEN", ""),
        )

    def metadata(self, api: Api) -> Metadata:
        token = (self.api_token or self.service_token) if api == "team" else self.service_token
        return ((AUTHORIZATION, f"Bearer {token}"),) if token else ()


@dataclass(frozen=True)
class Principal:
    """Who a console request is: a tenant, or an operator (tenant `*`)."""

    tenant: str

    @property
    def operator(self) -> bool:
        return self.tenant == OPERATOR_TENANT

    def may_see_tenant(self, tenant: str) -> bool:
        return self.operator or tenant == self.tenant


OPEN = Principal(OPERATOR_TENANT)


def token_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


@dataclass(frozen=True)
class TokenTable:
    """Token digests and their tenants (only digests are kept in memory)."""

    entries: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def parse(cls, text: str, name: str = "LINGUA_TEAM_TOKENS") -> TokenTable:
        entries = []
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            token, sep, tenant = item.rpartition(":")
            if not sep or not token.strip() or not tenant.strip():
                raise SettingsError(
                    f"{name}: each entry must be token:tenant (tenant * = operator)"
                )
            tenant = tenant.strip()
            if tenant != OPERATOR_TENANT and not TENANT_PATTERN.fullmatch(tenant):
                raise SettingsError(
                    f"{name}: a tenant is letters, digits and . _ - (or * for an operator)"
                )
            entries.append((token_digest(token.strip()), tenant))
        return cls(tuple(entries))

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, token: str) -> Principal | None:
        """The token's principal, or None; every entry compared, in constant time each."""
        if not token:
            return None
        presented = token_digest(token)
        found: str | None = None
        for known, tenant in self.entries:
            if hmac.compare_digest(presented, known):
                found = tenant
        return Principal(found) if found is not None else None


@dataclass(frozen=True)
class ConsoleAuth:
    disabled: bool = False
    tokens: TokenTable = field(default_factory=TokenTable)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConsoleAuth:
        if env_str(env, "LINGUA_CONSOLE_TOKENS", ""):
            raise SettingsError(
                "LINGUA_CONSOLE_TOKENS is gone: the console takes the team tokens, "
                "LINGUA_TEAM_TOKENS (same format)"
            )
        auth = cls(
            disabled=env_bool(env, "LINGUA_AUTH_DISABLED", False),
            tokens=TokenTable.parse(env_secret(env, "LINGUA_TEAM_TOKENS")),
        )
        if not auth.disabled and not auth.tokens:
            raise SettingsError(
                "LINGUA_TEAM_TOKENS is empty and LINGUA_AUTH_DISABLED is not true: "
                "nobody could use the console"
            )
        return auth

    def principal(self, token: str) -> Principal | None:
        if self.disabled:
            return OPEN
        return self.tokens.lookup(token)


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer …` header value, "" otherwise."""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
