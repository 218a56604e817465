"""The container image, checked without a Docker engine.

The Dockerfile cannot be built here, so what can be known without building it is
checked: every COPY source exists and survives .dockerignore, the final stage runs as a
numeric non-root user, every Deployment's command names a module the image contains,
and the files the image copies are enough to run each service: they are laid out as in
the image (/app with gen/ beside) and each service is started from there, outside the
repository, against a real Redis, then stopped with SIGTERM.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.deploy.manifests import REPO_ROOT, SERVICES, Rendered, containers
from tools.launcher.redis_server import RedisServer

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        word, _, rest = stripped.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _context_copies() -> list[tuple[str, str]]:
    """(source, destination) of every COPY from the build context."""
    copies = []
    for word, args in _instructions():
        if word != "COPY" or "--from=" in args:
            continue
        parts = [p for p in args.split() if not p.startswith("--")]
        *sources, destination = parts
        copies += [(source, destination) for source in sources]
    return copies


def _matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches a path or any of its parent folders; `**/` at
    the start matches at any depth."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        tail = pattern.removeprefix("**/")
        return any(fnmatch.fnmatchcase(part, tail) for part in parts)
    return any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes)


def _ignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the context) out of the build."""
    ignored = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        if _matches(pattern.lstrip("!").strip("/"), path):
            ignored = not negate
    return ignored


# --- the Dockerfile ---------------------------------------------------------------------------


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    copies = _context_copies()
    assert copies
    for source, _ in copies:
        assert (REPO_ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _ignored(source), f"COPY {source}: excluded by .dockerignore"


def test_the_image_carries_the_sources_the_services_need() -> None:
    copied = {Path(source).name for source, _ in _context_copies()}
    assert {"lingua_common", "services", "gen", "lua", "pyproject.toml"} <= copied
    # Dependencies come from pyproject.toml's list, which must be there to read.
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert dependencies["dependencies"]


def test_the_build_is_multi_stage_and_the_final_stage_is_lean_and_non_root() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    runs = " ".join(args for word, args in final if word == "RUN")
    for tool in ("pip install", "apt-get install", "gcc", "build-essential", "compileall"):
        assert tool not in runs, f"final stage runs {tool!r}"
    [user] = [args for word, args in final if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0, f"USER {user}: numeric and not root"
    assert not [args for word, args in final if word in ("ENTRYPOINT", "CMD")], (
        "each Deployment picks the service with its command"
    )
    env = " ".join(args for word, args in final if word == "ENV")
    assert "PYTHONPATH=/app:/app/gen" in env
    assert "LINGUA_HOST=0.0.0.0" in env


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    for path in (
        ".venv/bin/python",
        "run/gateway-0.log",
        ".mypy_cache/x",
        ".ruff_cache/x",
        ".pytest_cache/x",
        ".hypothesis/x",
        "services/gateway/__pycache__/app.cpython-311.pyc",
        "tests/unit/golden/out.json",
        "bench/results/run.json",
        ".git/HEAD",
        ".tools/node_modules/x",
    ):
        assert _ignored(path), path
    for path in ("services/gateway/app.py", "lua/slot_reserve.lua", "gen/lingua/__init__.py"):
        assert not _ignored(path), path


def test_every_deployment_command_names_a_module_of_the_image(target: Rendered) -> None:
    image_roots = {source.rstrip("/") for source, _ in _context_copies()}
    for deployment in target.service_deployments():
        command = containers(deployment)[0]["command"]
        assert command[:2] == ["python", "-m"]
        module = command[2]
        path = Path(*module.split(".")) / "__main__.py"
        assert path.parts[0] in image_roots, f"{module} is not copied into the image"
        assert (REPO_ROOT / path).is_file(), f"{module} has no __main__"


# --- the image's file set runs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the Dockerfile copies, laid out as in the image's /app."""
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    for source, _ in _context_copies():
        if source == "pyproject.toml":
            continue  # read by the build stage only
        src = REPO_ROOT / source
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(src, app / Path(source).name, ignore=ignore)
    return app


def _image_env(app: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINGUA_", "PYTHON"))}
    env.update(PYTHONPATH=f"{app}{os.pathsep}{app / 'gen'}", PYTHONDONTWRITEBYTECODE="1")
    return env


def test_the_image_tree_imports_nothing_from_the_repository(image_tree: Path) -> None:
    modules = ", ".join(f"services.{name}.app" for name in SERVICES)
    code = (
        f"import json, sys, {modules}\n"
        "print(json.dumps(sorted({getattr(m, '__file__', None) or '' "
        "for m in list(sys.modules.values())})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=image_tree.parent,
        env=_image_env(image_tree),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    files = orjson.loads(result.stdout)
    venv = str(REPO_ROOT / ".venv")
    leaked = [f for f in files if f.startswith(str(REPO_ROOT)) and not f.startswith(venv)]
    assert not leaked, f"modules outside the image's files: {leaked}"
    assert any(f.startswith(str(image_tree / "services")) for f in files)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_from_the_image_tree_and_stops_on_sigterm(
    image_tree: Path, redis_server: RedisServer, tmp_path: Path, service: str
) -> None:
    ready = tmp_path / "ready.json"
    env = _image_env(image_tree) | {
        "LINGUA_REDIS_URL": redis_server.url,
        "LINGUA_KEY_PREFIX": f"image-{service}:v1",
        "LINGUA_GRPC_PORT": "0",
        "LINGUA_WS_PORT": "0",
        "LINGUA_METRICS_PORT": "0",
        "LINGUA_READY_FILE": str(ready),
        "LINGUA_TEAM_PORT": "0",
        # As the Secrets provide them in a cluster (no service starts without them).
        "LINGUA_SERVICE_TOKEN": "image-test-service-token",
        "LINGUA_TEAM_TOKENS": "image-test-team-token:image-test",
        "LINGUA_NODE_TOKENS": "image-test-node-token",
        "LINGUA_CLIENT_API_KEYS": "image-test-client-key:image-test",
    }
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"],
        cwd=image_tree,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            assert process.poll() is None, (tmp_path / "service.log").read_text()
            assert time.monotonic() < deadline, "not ready in time"
            time.sleep(0.05)
        ports = orjson.loads(ready.read_bytes())["ports"]
        assert ports["grpc"] > 0
        if service == "gateway":
            assert ports["ws"] > 0
        url = f"http://127.0.0.1:{ports['metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert b"lingua_redis_errors_total" in response.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0, (tmp_path / "service.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
