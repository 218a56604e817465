"""A private redis-server (or a Redis Cluster) on free loopback ports.

Used by `make up`, the tests and the benchmark. Never touches a server that is already
running (e.g. on 6379): every instance gets its own checked-free port and temp dir.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.launcher.ports import free_port, port_is_free

START_ATTEMPTS = 5


class RedisUnavailableError(RuntimeError):
    """redis-server is not installed or would not start."""


def redis_binary(name: str = "redis-server") -> str:
    path = shutil.which(name)
    if path is None:
        raise RedisUnavailableError(
            f"{name} not found on PATH. Install it (Debian/Ubuntu: apt-get install redis-server; "
            "macOS: brew install redis) or run `make deps`."
        )
    return path


def _ping(port: int, timeout_s: float = 0.2) -> bool:
    result = subprocess.run(
        [redis_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), "ping"],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return result.stdout.strip() == "PONG"


@dataclass
class RedisServer:
    """One redis-server process on 127.0.0.1."""

    cluster_enabled: bool = False
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lingua-redis-")))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        binary = redis_binary()
        for _ in range(START_ATTEMPTS):
            port = self.port or free_port()
            if not port_is_free(port):
                if self.port:
                    raise RedisUnavailableError(f"port {port} is taken")
                continue
            args = [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.workdir / f"redis-{port}.log"),
            ]
            if self.cluster_enabled:
                args += [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(self.workdir / f"nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "2000",
                ]
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and process.poll() is None:
                if _ping(port):
                    self.port, self.process = port, process
                    return self
                time.sleep(0.05)
            process.kill()
            process.wait()
        raise RedisUnavailableError("redis-server did not start; see " + str(self.workdir))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Abrupt death, for failover tests."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class RedisClusterServers:
    """A real Redis Cluster on loopback: `masters` masters, `replicas` replicas each."""

    masters: int = 3
    replicas: int = 0
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.port) for n in self.nodes]

    def start(self, timeout_s: float = 30.0) -> RedisClusterServers:
        workdir = Path(tempfile.mkdtemp(prefix="lingua-cluster-"))
        for _ in range(self.masters * (1 + self.replicas)):
            self.nodes.append(RedisServer(cluster_enabled=True, workdir=workdir).start())
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run(
            [
                redis_binary("redis-cli"),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self._cluster_ok(n.port) for n in self.nodes):
                return self
            time.sleep(0.1)
        raise RedisUnavailableError("cluster did not reach cluster_state:ok")

    @staticmethod
    def _cluster_ok(port: int) -> bool:
        result = subprocess.run(
            [redis_binary("redis-cli"), "-p", str(port), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return "cluster_state:ok" in result.stdout

    def cleanup(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.nodes:
            shutil.rmtree(self.nodes[0].workdir, ignore_errors=True)
        self.nodes = []
