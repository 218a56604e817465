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
from tools.launcher.tether import tethered

START_ATTEMPTS = 5
CLUSTER_SLOTS = 16384


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


def _answers(process: subprocess.Popen[bytes], port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if _ping(port):
            return True
        time.sleep(0.05)
    return False


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
        for _ in range(START_ATTEMPTS):
            port = self.port or free_port()
            if not port_is_free(port):
                if self.port:
                    raise RedisUnavailableError(f"port {port} is taken")
                continue
            process = self._spawn(port)
            if _answers(process, port, timeout_s):
                self.port, self.process = port, process
                return self
            process.kill()
            process.wait()
        raise RedisUnavailableError("redis-server did not start; see " + str(self.workdir))

    # --- supervision (tools/launcher/supervisor.py) ---------------------------------------

    @property
    def name(self) -> str:
        return "redis"

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def spawn(self) -> None:
        """Start again on the same port, empty (no persistence), as after a crash."""
        self.process = self._spawn(self.port)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        if self.process is None or not _answers(self.process, self.port, timeout_s):
            raise RedisUnavailableError(f"redis-server on port {self.port} did not come back")

    def describe(self) -> str:
        return self.url

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        args = [
            redis_binary(),
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
        return subprocess.Popen(
            tethered(args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C must not take Redis away from
            # services that are still draining; the launcher stops it last.
            start_new_session=True,
        )

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

    # --- failover -----------------------------------------------------------------------------

    @property
    def live_nodes(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    @property
    def live_url(self) -> str:
        """A node that is still running (`url` may name one a test killed)."""
        return self.live_nodes[0].url

    def master_ports(self) -> list[int]:
        """The ports of the masters that currently own slots, as the cluster sees it."""
        return sorted(set(self._slot_owners().values()))

    def master_port_for(self, key: str) -> int:
        """The port of the master that owns `key`'s slot."""
        slot = int(_cli(self.live_nodes[0].port, "cluster", "keyslot", key).strip())
        for (low, high), port in self._slot_owners().items():
            if low <= slot <= high:
                return port
        raise RedisUnavailableError(f"no master owns slot {slot}")

    def kill_master(self, port: int) -> None:
        """SIGKILL one master (no shutdown, no last save): its replica must take over."""
        if port not in self.master_ports():
            raise ValueError(f"{port} is not a master")
        node = next(n for n in self.nodes if n.port == port)
        node.kill()

    def wait_healthy(self, timeout_s: float = 30.0) -> float:
        """Wait until every live node reports cluster_state:ok, every slot is served by a
        live master and every live replica is in sync; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            if self._healthy():
                return time.monotonic() - started
            time.sleep(0.05)
        raise RedisUnavailableError(f"cluster not healthy after {timeout_s}s")

    def _healthy(self) -> bool:
        live = self.live_nodes
        if not live or not all(self._cluster_ok(n.port) for n in live):
            return False
        live_ports = {n.port for n in live}
        owners = self._slot_owners()
        covered = sum(high - low + 1 for (low, high), port in owners.items() if port in live_ports)
        if covered != CLUSTER_SLOTS:
            return False
        for node in live:
            if node.port in owners.values():
                continue
            info = _cli(node.port, "info", "replication")
            if "role:slave" in info and "master_link_status:up" not in info:
                return False
        return True

    def _slot_owners(self) -> dict[tuple[int, int], int]:
        """Slot ranges -> port of the master serving them, from CLUSTER NODES on a live node."""
        for node in self.live_nodes:
            text = _cli(node.port, "cluster", "nodes")
            if not text.strip():
                continue
            owners: dict[tuple[int, int], int] = {}
            # <id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...
            for line in text.splitlines():
                fields = line.split()
                if len(fields) < 9 or "master" not in fields[2].split(","):
                    continue
                port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                for item in fields[8:]:
                    if item.startswith("["):  # a slot being migrated or imported
                        continue
                    low, _, high = item.partition("-")
                    owners[(int(low), int(high or low))] = port
            return owners
        raise RedisUnavailableError("no live cluster node answers CLUSTER NODES")

    def cleanup(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.nodes:
            shutil.rmtree(self.nodes[0].workdir, ignore_errors=True)
        self.nodes = []


def _cli(port: int, *args: str) -> str:
    result = subprocess.run(
        [redis_binary("redis-cli"), "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return result.stdout
