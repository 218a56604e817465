"""What the services inherit from the environment `make up` runs in.

Every `LINGUA_*` variable passes through to every service, except the ones that wire
the local stack together (ports, addresses, the Redis URL, replica ids, ready files):
the launcher sets those itself, one value per replica. Authentication is the one
default the launcher changes: off for the local demo unless the environment says
`LINGUA_AUTH_DISABLED=false`, in which case it is really on, or the launcher refuses
to start and names the credentials that are missing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from lingua_common.env import SettingsError, env_bool
from services.gateway.settings import AuthSettings

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
    node_token: str | None
    client_key: str | None
    # The console's operator token when auth is on (generated unless one was given).
    console_token: str | None = None


def launch_env(environ: Mapping[str, str]) -> LaunchEnv:
    """The services' LINGUA_* settings from the environment, auth defaulting to off.

    Raises SettingsError (naming the variables) when auth is asked for without the
    credentials the gateway needs, so nothing starts half-configured.
    """
    passed = {
        name: value
        for name, value in environ.items()
        if name.startswith(PREFIX) and name not in WIRING
    }
    auth_on = not env_bool(passed, AUTH_DISABLED, True)
    passed[AUTH_DISABLED] = "false" if auth_on else "true"
    auth = AuthSettings.from_env(passed)
    if auth_on:
        try:
            auth.validate()
        except SettingsError as error:
            raise SettingsError(f"{AUTH_DISABLED}=false: {error}") from None
    console_token = None
    if auth_on:
        given = passed.get(CONSOLE_TOKENS, "")
        if given:
            console_token = given.split(",")[0].partition(":")[0]
        else:
            # A local operator for the console, for this run only (printed at start).
            console_token = secrets.token_urlsafe(24)
            passed[CONSOLE_TOKENS] = f"{console_token}:*"
    return LaunchEnv(
        services=passed,
        auth_on=auth_on,
        node_token=auth.node_tokens[0] if auth_on else None,
        client_key=auth.client_keys[0][0] if auth_on else None,
        console_token=console_token,
    )
