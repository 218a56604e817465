"""The README's "Deploying" commands name things the manifests really have."""

from __future__ import annotations

import re

from tests.deploy.manifests import REPO_ROOT, Rendered

KINDS = {"svc": "Service", "deploy": "Deployment", "hpa": "HorizontalPodAutoscaler"}


def deploying_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Deploying", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert blocks, "the Deploying section has sh blocks"
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.strip()]


def test_applied_paths_exist() -> None:
    applied = [c.split("-k", 1)[1].strip() for c in deploying_commands() if "apply -k" in c]
    assert applied == ["k8s/overlays/dev", "k8s/overlays/prod"]
    for path in applied:
        assert (REPO_ROOT / path / "kustomization.yaml").is_file()


def test_named_objects_exist_in_their_namespace(rendered_targets: dict[str, Rendered]) -> None:
    by_namespace = {
        ns["metadata"]["name"]: target
        for target in rendered_targets.values()
        for ns in target.of_kind("Namespace")
    }
    checked = 0
    for command in deploying_commands():
        namespace = re.search(r"-n (\S+)", command)
        if namespace is None:
            continue
        target = by_namespace[namespace.group(1)]
        for short, name in re.findall(r"\b(svc|deploy|hpa)/([a-z0-9-]+)", command):
            target.find(KINDS[short], name)
            checked += 1
        for port in re.findall(r"port-forward svc/\S+ (\d+):(\d+)", command):
            service = re.search(r"svc/(\S+)", command)
            assert service is not None
            ports = [p["port"] for p in target.find("Service", service.group(1))["spec"]["ports"]]
            assert int(port[1]) in ports
        secret = re.search(r"create secret generic (\S+)", command)
        if secret is not None:
            keys = set(re.findall(r"--from-literal=(\w+)=", command))
            referenced = {
                (var["valueFrom"]["secretKeyRef"]["name"], var["valueFrom"]["secretKeyRef"]["key"])
                for d in target.deployments()
                for c in d["spec"]["template"]["spec"]["containers"]
                for var in c.get("env", [])
                if "secretKeyRef" in var.get("valueFrom", {})
            }
            assert {(secret.group(1), key) for key in keys} <= referenced
    assert checked >= 3
