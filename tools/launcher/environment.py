"""What the services inherit from the environment `make up` runs in.

Every `LINGUA_*` variable passes through to every service, except the ones that wire
the local stack together (ports, addresses, the Redis URL, replica ids, ready files):
the launcher sets those itself, one value per replica. Authentication is the one
default the launcher changes: off for the local demo unless the environment says
`LINGUA_AUTH_DISABLED=false`, in which case it is really on. Either way the run has
credentials: the environment's, or generated ones (credentials.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lingua_common.env import SettingsError, env_bool
from lingua_common.operator_auth import TokenTable
from services.gateway.settings import AuthSettings
from tools.launcher.credentials import LocalCredentials

PREFIX = "LINGUA_"
WIRING = frozenset(
    {
        "LINGUA_REDIS_URL",
        "LINGUA_REDIS_CLUSTER",
        "LINGUA_GRPC_PORT",
        "LINGUA_METRICS_PORT",
        "LINGUA_WS_PORT",
        "LINGUA_POOL_ADDRESS",
        "LINGUA_REGISTRY_ADDRESS",
        "LINGUA_DISPATCHER_ADDRESS",
        "LINGUA_DISPATCHER_TEAM_ADDRESS",
        "LINGUA_TEAM_PORT",
        "LINGUA_GATEWAY_ID",
        "LINGUA_READY_FILE",
    }
)
AUTH_DISABLED = "LINGUA_AUTH_DISABLED"
CONSOLE_TOKENS = "LINGUA_CONSOLE_TOKENS"


def inherited_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a service process starts from: everything but the wiring."""
    return {name: value for name, value in environ.items() if name not in WIRING}


def ignored_wiring(environ: Mapping[str, str]) -> list[str]:
    """Wiring variables set in the environment, which the launcher overrides."""
    return sorted(name for name in environ if name in WIRING)


@dataclass(frozen=True)
class LaunchEnv:
    # LINGUA_* settings for every service (the stack's defaults yield to these).
    services: dict[str, str]
    auth_on: bool
    # This run's credentials (given by the environment, else generated).
    credentials: LocalCredentials

    @property
    def node_token(self) -> str | None:
        """What the demo fleet's nodes present when authentication is on."""
        return self.credentials.node_token if self.auth_on else None

    @property
    def client_key(self) -> str | None:
        return self.credentials.client_key if self.auth_on else None


def launch_env(environ: Mapping[str, str]) -> LaunchEnv:
    """The services' LINGUA_* settings from the environment, auth defaulting to off, and
    the run's credentials (tools/launcher/credentials.py): every one the environment does
    not give is generated, so the stack starts with authentication on or off alike.

    Raises SettingsError (naming the variable) for a malformed setting, so nothing
    starts half-configured.
    """
    passed = {
        name: value
        for name, value in environ.items()
        if name.startswith(PREFIX) and name not in WIRING
    }
    if passed.get(CONSOLE_TOKENS):
        raise SettingsError(
            f"{CONSOLE_TOKENS} is gone: the console takes the team tokens, LINGUA_TEAM_TOKENS"
        )
    auth_on = not env_bool(passed, AUTH_DISABLED, True)
    passed[AUTH_DISABLED] = "false" if auth_on else "true"
    credentials = LocalCredentials.from_env(passed)
    passed.update(credentials.env())
    AuthSettings.from_env(passed).validate()
    TokenTable.parse(passed["LINGUA_TEAM_TOKENS"])
    return LaunchEnv(services=passed, auth_on=auth_on, credentials=credentials)
