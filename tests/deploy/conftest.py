"""Every kustomize target under k8s/ built once per session with kubectl (offline)."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import TARGETS, Rendered, build, ensure_kubectl


@pytest.fixture(scope="session")
def rendered_targets() -> dict[str, Rendered]:
    kubectl = ensure_kubectl()
    return {name: Rendered(name, build(kubectl, path)) for name, path in TARGETS.items()}


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest, rendered_targets: dict[str, Rendered]) -> Rendered:
    """Each target: k8s/base and every overlay."""
    return rendered_targets[request.param]


@pytest.fixture
def dev(rendered_targets: dict[str, Rendered]) -> Rendered:
    return rendered_targets["dev"]


@pytest.fixture
def prod(rendered_targets: dict[str, Rendered]) -> Rendered:
    return rendered_targets["prod"]
