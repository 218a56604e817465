"""The rendered output of one kustomize target, with the look-ups the deploy tests need."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "k8s"
VALIDATE_SCRIPT = REPO_ROOT / "scripts" / "validate_k8s.sh"

# Every target kustomize can build on its own: the base and each overlay.
TARGETS: dict[str, Path] = {
    "base": K8S_DIR / "base",
    **{
        p.name: p
        for p in sorted((K8S_DIR / "overlays").iterdir())
        if (p / "kustomization.yaml").exists()
    },
}
OVERLAYS = sorted(name for name in TARGETS if name != "base")

# The four services: module run by the Deployment's command, and how they are probed.
SERVICES = ("registry", "pool", "dispatcher", "gateway")
GRPC_PORTS = {"registry": 50051, "pool": 50052, "dispatcher": 50053, "gateway": 50054}
# The dispatcher's team API (DispatcherService), apart from its service-to-service port.
TEAM_PORT = 50055
# GET /metrics (each service's default LINGUA_METRICS_PORT).
METRICS_PORTS = {"registry": 9101, "pool": 9102, "dispatcher": 9103, "gateway": 9104}
ALERTS_FILE = K8S_DIR / "base" / "prometheus" / "alerts.yaml"
DASHBOARD_FILE = K8S_DIR / "base" / "grafana" / "lingua-dashboard.json"
IMAGE = "lingua-scheduler"

Obj = dict[str, Any]


def ensure_kubectl() -> str:
    """kubectl with a recent kustomize, installed the way scripts/validate_k8s.sh does."""
    subprocess.run(["bash", str(VALIDATE_SCRIPT), "--ensure-kubectl"], check=True)
    path = shutil.which("kubectl")
    assert path is not None
    return path


def build(kubectl: str, target: Path) -> list[Obj]:
    result = subprocess.run(
        [kubectl, "kustomize", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {target} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass
class Rendered:
    name: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj | None:
        for obj in self.of_kind(kind):
            if obj["metadata"]["name"] == name:
                return obj
        return None

    def find(self, kind: str, name: str) -> Obj:
        obj = self.get(kind, name)
        assert obj is not None, f"{self.name}: no {kind}/{name}"
        return obj

    def deployments(self) -> list[Obj]:
        return self.of_kind("Deployment")

    def service_deployments(self) -> list[Obj]:
        """The Deployments of our four services (not Redis, not Jaeger)."""
        return [d for d in self.deployments() if d["metadata"]["name"] in SERVICES]

    def config(self) -> dict[str, str]:
        """The data of the generated lingua-config ConfigMap (name carries a hash)."""
        maps = [
            c
            for c in self.of_kind("ConfigMap")
            if c["metadata"]["name"].startswith("lingua-config")
        ]
        assert len(maps) == 1, f"{self.name}: {len(maps)} lingua-config ConfigMaps"
        data: dict[str, str] = maps[0].get("data", {})
        return data

    def env_of(self, deployment: Obj) -> dict[str, Any]:
        """The environment of the first container: ConfigMap values via envFrom, then env
        (a plain value, or the valueFrom source), as Kubernetes resolves precedence."""
        container = containers(deployment)[0]
        env: dict[str, Any] = {}
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef")
            if ref is not None:
                cm = self.find("ConfigMap", ref["name"])
                env.update(cm.get("data", {}))
        for var in container.get("env", []):
            env[var["name"]] = var.get("value", var.get("valueFrom"))
        return env


def pod_spec(deployment: Obj) -> Obj:
    spec: Obj = deployment["spec"]["template"]["spec"]
    return spec


def containers(deployment: Obj) -> list[Obj]:
    found: list[Obj] = pod_spec(deployment)["containers"]
    return found


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())
