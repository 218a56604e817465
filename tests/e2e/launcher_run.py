"""The launcher (or `make up`) as a real child of a test: its output, its process tree."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0


def children_of(pid: int) -> set[int]:
    """Every live descendant of `pid` (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent's wait() counts as gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ready_info(run_dir: Path, name: str) -> dict[str, object]:
    info: dict[str, object] = orjson.loads((run_dir / f"{name}.ready.json").read_bytes())
    return info


class LauncherRun:
    """One launcher process in its own session (its own process group, like a shell
    job), its output collected line by line."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "MAKEFLAGS": "", **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def launcher(
        cls, run_dir: Path, *args: str, env: Mapping[str, str] | None = None
    ) -> LauncherRun:
        argv = [sys.executable, "-m", "tools.launcher", "--run-dir", str(run_dir), *args]
        if "--console-port" not in args:
            argv += ["--console-port", "0"]  # never the default 8090: it may be taken
        if "--team-port" not in args:
            argv += ["--team-port", "0"]  # nor the team API's 50055
        return cls(argv, env)

    @classmethod
    def make_up(cls, run_dir: Path, ws_port: int) -> LauncherRun:
        return cls(
            [
                "make",
                "up",
                f"WS_PORT={ws_port}",
                f"RUN_DIR={run_dir}",
                "CONSOLE_PORT=0",
                "TEAM_PORT=0",
            ]
        )

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.said(text):
                return
            if self.process.poll() is not None:
                self._reader.join(5)
                if self.said(text):
                    return
                raise AssertionError(f"exited {self.process.returncode}:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} after {timeout_s}s:\n{self.output}")

    def descendants(self) -> set[int]:
        return children_of(self.process.pid)

    def wait_exit(self, timeout_s: float = 60.0) -> int:
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"did not exit:\n{self.output}") from None
        self._reader.join(5)
        return code

    def kill_everything(self, pids: set[int]) -> None:
        """Last-resort cleanup, so a failed test leaves nothing running."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in pids | self.descendants():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@contextlib.contextmanager
def cleaned_up(run: LauncherRun) -> Iterator[set[int]]:
    """Yields a set the test fills with the pids it saw; all are killed if still there."""
    seen: set[int] = set()
    try:
        yield seen
    finally:
        if run.process.poll() is None or any(alive(p) for p in seen):
            run.kill_everything(seen)
        run.wait_exit(10)
