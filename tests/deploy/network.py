"""Who may connect to what, as Kubernetes decides it from the rendered NetworkPolicies:
a connection to a pod is allowed when no policy selects the pod for ingress, or when a
rule of one that does admits the source (a pod selector in the policy's namespace, a
namespace selector, or both) on the port (by name or number). Enough of the spec for our
policies: matchLabels selectors, TCP ports, no ipBlock."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.deploy.manifests import Obj, Rendered, containers, labels_match


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str]
    namespace_labels: dict[str, str] = field(default_factory=dict)


def namespace_of(target: Rendered) -> str:
    """The namespace the scheduler runs in ("default" for the base, which names none)."""
    return str(target.find("Deployment", "dispatcher")["metadata"].get("namespace", "default"))


def pod_of(target: Rendered, deployment: str, namespace: str) -> tuple[Pod, dict[str, int]]:
    """The pod a Deployment runs (as a Pod in `namespace`) and its named ports."""
    found = target.find("Deployment", deployment)
    labels = found["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"]: p["containerPort"] for c in containers(found) for p in c["ports"]}
    return Pod(namespace, labels, {"kubernetes.io/metadata.name": namespace}), ports


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # no matchExpressions in our policies
    return labels_match(selector.get("matchLabels", {}), labels)


def _admits(peer: Obj, policy_namespace: str, source: Pod) -> bool:
    assert "ipBlock" not in peer
    namespaces = peer.get("namespaceSelector")
    pods = peer.get("podSelector")
    if namespaces is None and source.namespace != policy_namespace:
        return False  # a bare podSelector means pods of the policy's own namespace
    if namespaces is not None and not _selects(namespaces, source.namespace_labels):
        return False
    return pods is None or _selects(pods, source.labels)


def allowed(
    target: Rendered, source: Pod, destination: Pod, port: int, port_names: dict[str, int]
) -> bool:
    policies = [
        p
        for p in target.of_kind("NetworkPolicy")
        if p["metadata"].get("namespace", destination.namespace) == destination.namespace
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _selects(p["spec"]["podSelector"], destination.labels)
    ]
    if not policies:
        return True
    for policy in policies:
        namespace = policy["metadata"].get("namespace", destination.namespace)
        for rule in policy["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and not any(port_names.get(str(p), p) == port for p in ports):
                continue
            peers = rule.get("from")
            if not peers or any(_admits(peer, namespace, source) for peer in peers):
                return True
    return False
