"""The local stack's discovery file (`run/stack.json`): written by `make up`, read by the
`lingua` command, so that after `make up` the command finds every service and the local
credentials without flags.

Format 1:
  {"format": 1, "launcher_pid": 123, "redis_url": "redis://…",
   "services": {"<service>": [{"name": "dispatcher-0", "grpc": "127.0.0.1:41235",
                               "team": "127.0.0.1:50055" (dispatchers' team API),
                               "metrics": "http://127.0.0.1:40111/metrics",
                               "ws": "ws://…" (gateways), "http": "http://…" (console)}]},
   "credentials": {"auth_disabled": true, "service_token": "…", "api_token": "…"
                   (an operator's team token), "team_token": "…", "team_tenant": "local",
                   "node_token": "…", "client_key": "…", "console_token": "…"}}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT = 1
FILE_NAME = "stack.json"
REPO_ROOT = Path(__file__).resolve().parents[1]


class StackFileError(Exception):
    """The discovery file is missing, unreadable or stale; str() says what to do."""


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    grpc: str = ""
    team: str = ""
    metrics: str = ""
    ws: str = ""
    http: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class StackInfo:
    path: Path
    launcher_pid: int
    redis_url: str
    services: dict[str, list[ServiceEntry]] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)

    def grpc_target(self, service: str) -> str:
        """One gRPC target over every replica (round robin), "" when none."""
        addresses = [e.grpc for e in self.services.get(service, []) if e.grpc]
        if len(addresses) <= 1:
            return addresses[0] if addresses else ""
        return "ipv4:" + ",".join(addresses)

    def team_target(self) -> str:
        """The dispatchers' team API over every replica (round robin), "" when none."""
        addresses = [e.team for e in self.services.get("dispatcher", []) if e.team]
        if len(addresses) <= 1:
            return addresses[0] if addresses else ""
        return "ipv4:" + ",".join(addresses)

    def metrics_urls(self) -> list[str]:
        return [e.metrics for entries in self.services.values() for e in entries if e.metrics]

    def console_url(self) -> str:
        urls = [e.http for e in self.services.get("console", []) if e.http]
        return urls[0] if urls else ""


def write(
    path: Path,
    launcher_pid: int,
    redis_url: str,
    services: Mapping[str, list[ServiceEntry]],
    credentials: Mapping[str, Any],
) -> None:
    body = {
        "format": FORMAT,
        "launcher_pid": launcher_pid,
        "redis_url": redis_url,
        "services": {name: [e.to_json() for e in entries] for name, entries in services.items()},
        "credentials": dict(credentials),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
    # Only the local user: it holds the local credentials.
    tmp.chmod(0o600)
    tmp.replace(path)


def find(env: Mapping[str, str], cwd: Path) -> Path | None:
    """LINGUA_STACK_FILE, else run/stack.json in the working directory or a parent, else
    the repository's run/stack.json (where `make up` writes it)."""
    named = env.get("LINGUA_STACK_FILE", "")
    if named:
        return Path(named)
    for folder in (cwd, *cwd.parents):
        candidate = folder / "run" / FILE_NAME
        if candidate.is_file():
            return candidate
    default = REPO_ROOT / "run" / FILE_NAME
    return default if default.is_file() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load(path: Path) -> StackInfo:
    try:
        body = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise StackFileError(f"{path} does not exist (start the stack with `make up`)") from None
    except (OSError, orjson.JSONDecodeError) as error:
        raise StackFileError(f"{path} is unreadable: {error}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise StackFileError(f"{path} is not a format-{FORMAT} stack file")
    pid = int(body.get("launcher_pid", 0))
    if pid and not _pid_alive(pid):
        raise StackFileError(
            f"the stack in {path} is not running (its launcher, pid {pid}, has exited): "
            "run `make up`"
        )
    services = {
        name: [ServiceEntry(**entry) for entry in entries]
        for name, entries in dict(body.get("services", {})).items()
    }
    return StackInfo(
        path=path,
        launcher_pid=pid,
        redis_url=str(body.get("redis_url", "")),
        services=services,
        credentials=dict(body.get("credentials", {})),
    )
