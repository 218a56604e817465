"""The running stack written as the discovery file the `lingua` command reads
(tools/discovery.py): every service's addresses and the local credentials."""

from __future__ import annotations

import os
from pathlib import Path

from tools import discovery
from tools.launcher.processes import ServiceProcess
from tools.launcher.stack import Stack


def _entry(service: ServiceProcess) -> discovery.ServiceEntry:
    ports = service.ports
    return discovery.ServiceEntry(
        name=service.name,
        grpc=service.grpc_address if "grpc" in ports else "",
        team=f"127.0.0.1:{ports['team']}" if "team" in ports else "",
        metrics=f"http://127.0.0.1:{ports['metrics']}/metrics" if "metrics" in ports else "",
        ws=f"ws://127.0.0.1:{ports['ws']}" if "ws" in ports else "",
        http=f"http://127.0.0.1:{ports['http']}" if "http" in ports else "",
    )


def stack_file_path(stack: Stack) -> Path:
    return stack.run_dir / discovery.FILE_NAME


def write_stack_file(stack: Stack) -> Path:
    services: dict[str, list[discovery.ServiceEntry]] = {}
    for service in stack.services:
        kind = service.module.rsplit(".", 1)[-1]
        services.setdefault(kind, []).append(_entry(service))
    path = stack_file_path(stack)
    discovery.write(
        path,
        launcher_pid=os.getpid(),
        redis_url=stack.redis_url,
        services=services,
        credentials=stack.credentials.for_tools(stack.auth_disabled),
    )
    return path


def remove_stack_file(stack: Stack) -> None:
    stack_file_path(stack).unlink(missing_ok=True)
