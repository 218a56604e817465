"""One service as a child process: started with a ready file, health-checked, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import orjson
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tools.launcher.environment import inherited_env
from tools.launcher.tether import tethered

REPO_ROOT = Path(__file__).resolve().parents[2]
# The port a service bound first is the one it binds after a restart: the other
# services were told where it is.
PORT_VARIABLES = {
    "grpc": "LINGUA_GRPC_PORT",
    "metrics": "LINGUA_METRICS_PORT",
    "ws": "LINGUA_WS_PORT",
    "team": "LINGUA_TEAM_PORT",
}


class ServiceStartError(RuntimeError):
    pass


@dataclass
class ServiceProcess:
    name: str
    module: str
    env: dict[str, str]
    run_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def ready_file(self) -> Path:
        return self.run_dir / f"{self.name}.ready.json"

    @property
    def log_path(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.ports['grpc']}"

    def start(self) -> None:
        self.ready_file.unlink(missing_ok=True)
        env = {**inherited_env(os.environ), **self.env, "LINGUA_READY_FILE": str(self.ready_file)}
        paths = [str(REPO_ROOT), str(REPO_ROOT / "gen"), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            tethered([sys.executable, "-m", self.module]),
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own process group: Ctrl-C in the terminal reaches the launcher only,
            # which then stops children in order.
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceStartError(
                    f"{self.name} exited with {self.process.returncode}; log: {self.log_path}\n"
                    + self.tail_log()
                )
            if self.ready_file.exists():
                self.ports = {
                    k: int(v)
                    for k, v in orjson.loads(self.ready_file.read_bytes())["ports"].items()
                }
                self._check_health(deadline)
                self._pin_ports()
                return
            time.sleep(0.05)
        raise ServiceStartError(f"{self.name} not ready after {timeout_s}s; log: {self.log_path}")

    def _pin_ports(self) -> None:
        for kind, port in self.ports.items():
            if kind in PORT_VARIABLES:
                self.env[PORT_VARIABLES[kind]] = str(port)

    # --- supervision (tools/launcher/supervisor.py) ---------------------------------------

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def spawn(self) -> None:
        """Start again after it died, on the ports it had (pinned at its first start)."""
        self.start()

    def describe(self) -> str:
        listens = ", ".join(f"{kind} {port}" for kind, port in sorted(self.ports.items()))
        pid = self.process.pid if self.process is not None else "-"
        return f"pid {pid}, {listens}"

    def _check_health(self, deadline: float) -> None:
        with grpc.insecure_channel(self.grpc_address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=max(1.0, deadline - time.monotonic()),
            )
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise ServiceStartError(f"{self.name} health is {reply.status}")
        if "ws" in self.ports:
            url = f"http://127.0.0.1:{self.ports['ws']}/healthz"
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status != 200:
                    raise ServiceStartError(f"{self.name} /healthz answered {response.status}")

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout_s: float) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            # Ask it where it is stuck (its log gets a task dump), then kill it.
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            self.process.kill()
            return self.process.wait()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL), for failure tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail_log(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
