"""Where the services are and which credentials to present: flags first, then LINGUA_*
environment variables, then the local stack's discovery file (`make up`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lingua_common.operator_auth import CallCredentials
from lingua_common.ops.client import Endpoints
from tools import discovery

# The dispatcher's team API (the only dispatcher API a tool calls).
TEAM_ADDRESS = "LINGUA_DISPATCHER_TEAM_ADDRESS"


class CliError(Exception):
    """A usage or configuration problem; str() is the one line the user sees."""


@dataclass(frozen=True)
class Flags:
    registry: str = ""
    pool: str = ""
    dispatcher: str = ""
    metrics_urls: tuple[str, ...] = ()
    stack_file: str = ""
    service_token: str = ""
    api_token: str = ""
    timeout_s: float = 10.0


@dataclass(frozen=True)
class CliConfig:
    endpoints: Endpoints
    credentials: CallCredentials
    metrics_urls: tuple[str, ...]
    trace_url: str
    console_url: str
    timeout_s: float
    # Where the addresses came from: a stack file's path, or "flags/environment".
    source: str


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def resolve(flags: Flags, env: Mapping[str, str], cwd: Path) -> CliConfig:
    stack: discovery.StackInfo | None = None
    explicit = all(
        [
            flags.registry or env.get("LINGUA_REGISTRY_ADDRESS"),
            flags.pool or env.get("LINGUA_POOL_ADDRESS"),
            flags.dispatcher or env.get(TEAM_ADDRESS),
        ]
    )
    named = flags.stack_file or env.get("LINGUA_STACK_FILE", "")
    path = Path(named) if named else discovery.find(env, cwd)
    # A found file is read unless every address was given; a named one always is.
    if path is not None and (named or not explicit):
        try:
            stack = discovery.load(path)
        except discovery.StackFileError as error:
            raise CliError(str(error)) from None

    def pick(flag: str, env_name: str, service: str) -> str:
        found = ""
        if stack:
            found = stack.team_target() if service == "dispatcher" else stack.grpc_target(service)
        value = flag or env.get(env_name, "") or found
        if not value:
            raise CliError(
                f"no {service} address: pass --{service}, set {env_name}, "
                "or start a local stack with `make up`"
            )
        return value

    endpoints = Endpoints(
        registry=pick(flags.registry, "LINGUA_REGISTRY_ADDRESS", "registry"),
        pool=pick(flags.pool, "LINGUA_POOL_ADDRESS", "pool"),
        dispatcher=pick(flags.dispatcher, TEAM_ADDRESS, "dispatcher"),
    )
    local = stack.credentials if stack else {}
    credentials = CallCredentials(
        service_token=flags.service_token
        or env.get("LINGUA_SERVICE_TOKEN", "")
        or str(local.get("service_token", "")),
        api_token=flags.api_token
        or env.get("LINGUA_API_TOKEN", "")
        or str(local.get("api_token", "")),
    )
    metrics: Sequence[str] = flags.metrics_urls or _split(env.get("LINGUA_METRICS_URLS", ""))
    if not metrics and stack:
        metrics = stack.metrics_urls()
    return CliConfig(
        endpoints=endpoints,
        credentials=credentials,
        metrics_urls=tuple(metrics),
        trace_url=env.get("LINGUA_TRACE_URL", ""),
        console_url=env.get("LINGUA_CONSOLE_URL", "") or (stack.console_url() if stack else ""),
        timeout_s=flags.timeout_s,
        source=str(stack.path) if stack else "flags/environment",
    )
