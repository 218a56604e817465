"""The Kubernetes manifests: schema-valid, and following the rules of issue 7.

Each kustomize target (k8s/base and every overlay) is rendered with `kubectl kustomize`
and checked object by object; nothing here needs a cluster.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from kubernetes_validate import utils as kv

from services.gateway.client_address import parse_networks
from tests.deploy.manifests import (
    ALERTS_FILE,
    DASHBOARD_FILE,
    GRPC_PORTS,
    IMAGE,
    METRICS_PORTS,
    OVERLAYS,
    REPO_ROOT,
    SERVICES,
    TEAM_PORT,
    Obj,
    Rendered,
    containers,
    labels_match,
    pod_spec,
)
from tests.deploy.network import Pod, allowed, namespace_of, pod_of

# The oldest Kubernetes we claim (native gRPC probes are GA since 1.27) and the newest
# the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kv.latest_version())
AUTOSCALED = ("gateway", "dispatcher")
# Credentials the gateway reads from a Secret.
FUTURE_ENV = {"LINGUA_NODE_TOKENS", "LINGUA_CLIENT_API_KEYS"}


def _effective(container: Obj, pod: Obj, key: str) -> Any:
    """A securityContext field as Kubernetes applies it: the container's, else the pod's."""
    value = container.get("securityContext", {}).get(key)
    return value if value is not None else pod.get("securityContext", {}).get(key)


# --- schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schema(
    target: Rendered, version: str
) -> None:
    problems = []
    for obj in target.objects:
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {error.message}")
        except kv.SchemaNotFoundError as error:
            problems.append(error.message)
    assert not problems, "\n".join(problems)


def test_every_target_renders_the_four_services(target: Rendered) -> None:
    for name in SERVICES:
        target.find("Deployment", name)
        target.find("Service", name)
        target.find("ServiceAccount", name)


# --- Deployments -----------------------------------------------------------------------------


def test_every_deployment_has_readiness_and_liveness_probes(target: Rendered) -> None:
    for deployment in target.deployments():
        for container in containers(deployment):
            name = f"{deployment['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container, name
            assert "livenessProbe" in container, name


@pytest.mark.parametrize("service", ["registry", "pool", "dispatcher"])
def test_grpc_services_use_native_grpc_probes_on_their_port(target: Rendered, service: str) -> None:
    container = containers(target.find("Deployment", service))[0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == GRPC_PORTS[service], probe
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    team = {"team": TEAM_PORT} if service == "dispatcher" else {}
    assert ports == {"grpc": GRPC_PORTS[service], "metrics": METRICS_PORTS[service], **team}
    assert target.env_of(target.find("Deployment", service))["LINGUA_GRPC_PORT"] == str(
        GRPC_PORTS[service]
    )


def test_the_gateway_is_probed_over_http_on_its_websocket_port(target: Rendered) -> None:
    container = containers(target.find("Deployment", "gateway"))[0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ws"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ws"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = target.env_of(target.find("Deployment", "gateway"))
    assert ports == {
        "ws": int(env["LINGUA_WS_PORT"]),
        "grpc": GRPC_PORTS["gateway"],
        "metrics": METRICS_PORTS["gateway"],
    }


def test_every_container_has_resource_requests_and_limits(target: Rendered) -> None:
    for deployment in target.deployments():
        for container in containers(deployment):
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert set(resources.get(kind, {})) >= {"cpu", "memory"}, (
                    f"{deployment['metadata']['name']}: {kind}"
                )


def test_every_container_runs_with_a_strict_security_context(target: Rendered) -> None:
    for deployment in target.deployments():
        pod = pod_spec(deployment)
        for container in containers(deployment):
            name = f"{deployment['metadata']['name']}/{container['name']}"
            assert _effective(container, pod, "runAsNonRoot") is True, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"].get("privileged", False) is False, name
            assert "ALL" in container["securityContext"]["capabilities"]["drop"], name
            assert not container["securityContext"]["capabilities"].get("add"), name
            assert _effective(container, pod, "seccompProfile") == {"type": "RuntimeDefault"}
            user = _effective(container, pod, "runAsUser")
            assert isinstance(user, int) and user > 0, name


def test_every_deployment_has_its_own_service_account_without_a_token(target: Rendered) -> None:
    for deployment in target.deployments():
        pod = pod_spec(deployment)
        account = target.find("ServiceAccount", pod["serviceAccountName"])
        assert account["automountServiceAccountToken"] is False
        assert pod["automountServiceAccountToken"] is False


def _drain_budget_s(target: Rendered, deployment: Obj) -> float:
    """What a service may spend between SIGTERM's delivery and its exit, plus preStop."""
    env = target.env_of(deployment)
    seconds = int(env["LINGUA_SHUTDOWN_GRACE_MS"]) / 1000
    if deployment["metadata"]["name"] == "gateway":
        seconds += int(env["LINGUA_DRAIN_TIMEOUT_MS"]) / 1000
    pre_stop = containers(deployment)[0].get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command", [])
    if command[:1] == ["sleep"]:
        seconds += float(command[1])
    return seconds


def test_termination_grace_outlasts_the_drain(target: Rendered) -> None:
    for deployment in target.deployments():
        grace = pod_spec(deployment).get("terminationGracePeriodSeconds")
        assert isinstance(grace, int), deployment["metadata"]["name"]
        if deployment["metadata"]["name"] in SERVICES:
            budget = _drain_budget_s(target, deployment)
            # Room for closing pools and flushing telemetry after the drain.
            assert grace >= budget + 5, (deployment["metadata"]["name"], grace, budget)


def test_every_service_runs_its_module_from_the_one_image(target: Rendered) -> None:
    for deployment in target.service_deployments():
        name = deployment["metadata"]["name"]
        container = containers(deployment)[0]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert "args" not in container
        image = container["image"]
        assert image.rsplit(":", 1)[0].endswith(IMAGE), image
        assert ":" in image and not image.endswith(":latest"), image
        assert (REPO_ROOT / "services" / name / "__main__.py").is_file()


def test_services_listen_on_the_pod_address_and_find_each_other(target: Rendered) -> None:
    for deployment in target.service_deployments():
        env = target.env_of(deployment)
        assert env["LINGUA_HOST"] == "0.0.0.0"
        assert env["LINGUA_LOG_FORMAT"] == "json"
    env = target.env_of(target.find("Deployment", "gateway"))
    assert env["LINGUA_WS_HOST"] == "0.0.0.0"
    for service in ("registry", "pool", "dispatcher"):
        address = env[f"LINGUA_{service.upper()}_ADDRESS"]
        assert address == f"{service}:{GRPC_PORTS[service]}"
        ports = {p["name"]: p["port"] for p in target.find("Service", service)["spec"]["ports"]}
        assert ports["grpc"] == GRPC_PORTS[service]


def test_each_gateway_replica_advertises_its_pod_ip_under_its_own_id(target: Rendered) -> None:
    container = containers(target.find("Deployment", "gateway"))[0]
    env = {v["name"]: v for v in container["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["LINGUA_ADVERTISE_HOST"]["value"] == "$(POD_IP)"
    assert env["LINGUA_GATEWAY_ID"]["value"] == "$(POD_NAME)"
    names = [v["name"] for v in container["env"]]
    assert names.index("POD_IP") < names.index("LINGUA_ADVERTISE_HOST")
    assert names.index("POD_NAME") < names.index("LINGUA_GATEWAY_ID")


def test_gateway_tokens_come_from_a_secret(target: Rendered) -> None:
    container = containers(target.find("Deployment", "gateway"))[0]
    env = {v["name"]: v for v in container["env"]}
    for name in sorted(FUTURE_ENV):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"].startswith("lingua-gateway-tokens")
        assert ref["key"] == name
    # No secret value sits in the ConfigMap.
    assert not FUTURE_ENV & set(target.config())


def test_every_setting_in_the_config_map_is_one_the_code_reads(target: Rendered) -> None:
    sources = "\n".join(
        p.read_text()
        for folder in ("lingua_common", "services")
        for p in (REPO_ROOT / folder).rglob("*.py")
    )
    for key in target.config():
        if key.startswith("LINGUA_"):
            assert f'"{key}"' in sources, f"{key} is read by no service (typo?)"
        else:
            assert re.fullmatch(r"OTEL_[A-Z_]+", key), key


# --- metrics and alerts ----------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_prometheus_scrapes_each_service_on_its_metrics_port(
    target: Rendered, service: str
) -> None:
    deployment = target.find("Deployment", service)
    notes = deployment["spec"]["template"]["metadata"]["annotations"]
    port = METRICS_PORTS[service]
    assert notes["prometheus.io/scrape"] == "true"
    assert notes["prometheus.io/path"] == "/metrics"
    assert notes["prometheus.io/port"] == str(port)
    container = containers(deployment)[0]
    assert {"name": "metrics", "containerPort": port} in container["ports"]
    assert target.env_of(deployment)["LINGUA_METRICS_PORT"] == str(port)
    # Not through a Service: scrapes reach each replica, and clients never see it.
    for svc in target.of_kind("Service"):
        assert all(p["targetPort"] != "metrics" for p in svc["spec"]["ports"])


def test_only_prometheus_reaches_the_metrics_ports(target: Rendered) -> None:
    rules = [
        rule
        for policy in target.of_kind("NetworkPolicy")
        for rule in policy["spec"].get("ingress", [])
        if any(p["port"] == "metrics" for p in rule.get("ports", []))
    ]
    assert rules, "no policy lets Prometheus scrape"
    for rule in rules:
        assert rule["from"], "metrics open to everyone"
        for peer in rule["from"]:
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    for name in SERVICES:
        labels = target.find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert any(
            any(p["port"] == "metrics" for r in pol["spec"]["ingress"] for p in r["ports"])
            for pol in _policies_for(target, labels)
        ), name


def test_the_alert_rules_ship_as_a_config_map_under_a_fixed_name(target: Rendered) -> None:
    config_map = target.find("ConfigMap", "lingua-alerts")
    assert config_map["data"] == {"alerts.yaml": ALERTS_FILE.read_text()}
    groups = yaml.safe_load(config_map["data"]["alerts.yaml"])["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)) >= 6
    for rule in alerts:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["for"], rule["alert"]
        promql_parser.parse(rule["expr"])  # metric names: tests/services/test_metrics_alerts.py


def test_the_grafana_dashboard_ships_for_the_dashboard_sidecar(target: Rendered) -> None:
    config_map = target.find("ConfigMap", "lingua-dashboard")
    # The label Grafana's sidecar (kiwigrid/k8s-sidecar, as the Grafana chart sets it up)
    # selects by; the fixed name lets an operator find it.
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (body,) = config_map["data"].values()
    assert body == DASHBOARD_FILE.read_text()
    assert json.loads(body)["uid"] == "lingua-scheduler"  # queries: test_metrics_dashboard.py


# --- Services, Ingress ------------------------------------------------------------------------


def test_every_service_port_is_named_and_grpc_ports_say_so(target: Rendered) -> None:
    for service in target.of_kind("Service"):
        for port in service["spec"]["ports"]:
            assert port.get("name"), f"{service['metadata']['name']}: unnamed port"
            if port["name"] == "grpc":
                assert port.get("appProtocol") == "grpc", service["metadata"]["name"]
    for name in SERVICES:
        ports = target.find("Service", name)["spec"]["ports"]
        assert any(p["name"] == "grpc" and p["appProtocol"] == "grpc" for p in ports), name


def test_every_service_selects_the_pods_of_its_deployment(target: Rendered) -> None:
    for service in target.of_kind("Service"):
        name = service["metadata"]["name"]
        deployment = target.find("Deployment", name)
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels_match(service["spec"]["selector"], template_labels), name
        container_ports = {p["name"] for c in containers(deployment) for p in c["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in container_ports, (name, port)


def test_the_gateway_takes_websockets_through_an_ingress_with_long_timeouts(
    target: Rendered,
) -> None:
    ingress = target.find("Ingress", "gateway")
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert path["path"] == "/ws/"
    assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "ws"}}
    ws = next(p for p in target.find("Service", "gateway")["spec"]["ports"] if p["name"] == "ws")
    assert ws["appProtocol"] == "kubernetes.io/ws"


# --- availability and scaling ----------------------------------------------------------------


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_pod_disruption_budget(target: Rendered, name: str) -> None:
    budget = target.find("PodDisruptionBudget", name)
    labels = target.find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert labels_match(budget["spec"]["selector"]["matchLabels"], labels)
    assert "maxUnavailable" in budget["spec"] or "minAvailable" in budget["spec"]


@pytest.mark.parametrize("name", AUTOSCALED)
def test_gateway_and_dispatcher_scale_with_an_hpa(target: Rendered, name: str) -> None:
    hpa = target.find("HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": name,
    }
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    # The HPA owns the count: a replicas field would be reset by every apply.
    assert "replicas" not in target.find("Deployment", name)["spec"]


def test_only_autoscaled_deployments_leave_replicas_to_an_hpa(target: Rendered) -> None:
    scaled = {
        h["spec"]["scaleTargetRef"]["name"] for h in target.of_kind("HorizontalPodAutoscaler")
    }
    for deployment in target.deployments():
        name = deployment["metadata"]["name"]
        assert ("replicas" in deployment["spec"]) != (name in scaled), name


# --- NetworkPolicy ---------------------------------------------------------------------------


def test_ingress_is_denied_by_default(target: Rendered) -> None:
    deny = [
        p
        for p in target.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"]["policyTypes"]
        and not p["spec"].get("ingress")
    ]
    assert deny, "no default-deny ingress NetworkPolicy"


def _policies_for(target: Rendered, labels: dict[str, str]) -> list[Obj]:
    return [
        p
        for p in target.of_kind("NetworkPolicy")
        if labels_match(p["spec"]["podSelector"].get("matchLabels", {}), labels)
        and p["spec"]["podSelector"] != {}
    ]


def test_only_the_gateway_websocket_port_is_open_to_everyone(target: Rendered) -> None:
    for policy in target.of_kind("NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            if rule.get("from"):
                continue
            # A rule without `from` admits any source: only the gateway's WebSocket port.
            assert policy["spec"]["podSelector"] == {
                "matchLabels": {"app.kubernetes.io/name": "gateway"}
            }, policy["metadata"]["name"]
            assert [p["port"] for p in rule["ports"]] == ["ws"]
    gateway = target.find("Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    open_rules = [
        r for p in _policies_for(target, gateway) for r in p["spec"]["ingress"] if not r.get("from")
    ]
    assert open_rules, "nothing lets clients reach the gateway"


def test_services_reach_each_other_over_grpc_only_from_services(target: Rendered) -> None:
    for name in SERVICES:
        labels = target.find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        grpc_sources = [
            peer["podSelector"]["matchLabels"]
            for policy in _policies_for(target, labels)
            for rule in policy["spec"].get("ingress", [])
            if any(p["port"] == "grpc" for p in rule.get("ports", []))
            for peer in rule.get("from", [])
        ]
        assert grpc_sources, f"no policy lets gRPC reach {name}"
        for source in grpc_sources:
            # Every one of the four services matches the source selector.
            for peer in SERVICES:
                peer_labels = target.find("Deployment", peer)["spec"]["template"]["metadata"][
                    "labels"
                ]
                assert labels_match(source, peer_labels), (name, peer)


# --- overlays --------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_put_everything_in_one_restricted_namespace(
    rendered_targets: dict[str, Rendered], overlay: str
) -> None:
    target = rendered_targets[overlay]
    [namespace] = target.of_kind("Namespace")
    name = namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in target.objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == name, obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_give_every_service_a_redis(
    rendered_targets: dict[str, Rendered], overlay: str
) -> None:
    target = rendered_targets[overlay]
    for deployment in target.service_deployments():
        env = target.env_of(deployment)
        assert env.get("LINGUA_REDIS_URL"), deployment["metadata"]["name"]


def test_dev_runs_redis_and_jaeger_in_the_cluster(dev: Rendered) -> None:
    config = dev.config()
    redis = dev.find("Deployment", "redis")
    assert containers(redis)[0]["image"].startswith("redis:")
    port = next(p["port"] for p in dev.find("Service", "redis")["spec"]["ports"])
    assert config["LINGUA_REDIS_URL"] == f"redis://redis:{port}/0"
    assert config["LINGUA_REDIS_CLUSTER"] == "false"

    jaeger = dev.find("Deployment", "jaeger")
    assert "jaeger" in containers(jaeger)[0]["image"]
    ports = {p["name"]: p["port"] for p in dev.find("Service", "jaeger")["spec"]["ports"]}
    assert config["OTEL_TRACES_EXPORTER"] == "otlp"
    assert config["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
    assert config["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://jaeger:{ports['otlp-grpc']}"
    assert "ui" in ports


def test_dev_lets_only_the_services_reach_redis_and_jaeger(dev: Rendered) -> None:
    services = dev.find("Deployment", "registry")["spec"]["template"]["metadata"]["labels"]
    for name in ("redis", "jaeger"):
        labels = dev.find("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        policies = _policies_for(dev, labels)
        assert policies, f"no policy for {name}"
        for policy in policies:
            for rule in policy["spec"]["ingress"]:
                assert rule.get("from"), f"{name} open to everyone"
                for peer in rule["from"]:
                    assert set(peer) == {"podSelector"}
                    assert labels_match(peer["podSelector"]["matchLabels"], services)
                    assert not labels_match(peer["podSelector"]["matchLabels"], labels)


def test_dev_defines_the_gateway_tokens_secret(dev: Rendered) -> None:
    [secret] = [
        s
        for s in dev.of_kind("Secret")
        if s["metadata"]["name"].startswith("lingua-gateway-tokens")
    ]
    assert set(secret["data"]) == FUTURE_ENV


def test_prod_uses_an_external_redis_cluster_from_a_secret(prod: Rendered) -> None:
    assert prod.config()["LINGUA_REDIS_CLUSTER"] == "true"
    assert "LINGUA_REDIS_URL" not in prod.config()
    for deployment in prod.service_deployments():
        ref = prod.env_of(deployment)["LINGUA_REDIS_URL"]["secretKeyRef"]
        assert ref == {"name": "lingua-redis", "key": "LINGUA_REDIS_URL"}
    images = [c["image"] for d in prod.deployments() for c in containers(d)]
    assert not any(image.startswith("redis") for image in images)
    assert prod.get("Deployment", "redis") is None
    assert prod.get("Service", "redis") is None
    assert not prod.of_kind("StatefulSet")
    # Secrets are created out of band, never shipped with the manifests.
    assert not prod.of_kind("Secret")


def test_prod_runs_more_replicas_than_dev(dev: Rendered, prod: Rendered) -> None:
    for name in ("registry", "pool"):
        assert (
            prod.find("Deployment", name)["spec"]["replicas"]
            > dev.find("Deployment", name)["spec"]["replicas"]
        )
    for name in AUTOSCALED:
        dev_hpa = dev.find("HorizontalPodAutoscaler", name)["spec"]
        prod_hpa = prod.find("HorizontalPodAutoscaler", name)["spec"]
        assert prod_hpa["minReplicas"] > dev_hpa["minReplicas"]
        assert prod_hpa["maxReplicas"] > dev_hpa["maxReplicas"]
        assert prod_hpa["minReplicas"] >= 2


def test_the_validation_script_and_make_target_exist() -> None:
    script = REPO_ROOT / "scripts" / "validate_k8s.sh"
    assert script.stat().st_mode & 0o111
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^k8s-check:", makefile, re.M)
    assert "scripts/validate_k8s.sh" in makefile
    assert Path(REPO_ROOT / "k8s" / "base" / "kustomization.yaml").is_file()


# --- who may call what (issue 15) ------------------------------------------------------------

TEAM_LABEL = {"lingua-team-api": "allowed"}


def test_a_team_in_another_namespace_reaches_the_team_api_and_nothing_else(
    target: Rendered,
) -> None:
    namespace = namespace_of(target)
    dispatcher, ports = pod_of(target, "dispatcher", namespace)
    team = Pod("team-a", {"app": "batch"}, {"kubernetes.io/metadata.name": "team-a", **TEAM_LABEL})
    stranger = Pod("team-b", {"app": "batch"}, {"kubernetes.io/metadata.name": "team-b"})
    assert allowed(target, team, dispatcher, TEAM_PORT, ports)
    assert not allowed(target, stranger, dispatcher, TEAM_PORT, ports)
    # Never the service-to-service API: not the dispatcher's links, not any service's gRPC.
    for name in SERVICES:
        pod, named = pod_of(target, name, namespace)
        assert not allowed(target, team, pod, GRPC_PORTS[name], named), name
    # The services still reach each other, and the console reaches the team API.
    gateway, _ = pod_of(target, "gateway", namespace)
    console, _ = pod_of(target, "console", namespace)
    assert allowed(target, gateway, dispatcher, GRPC_PORTS["dispatcher"], ports)
    assert allowed(target, console, dispatcher, TEAM_PORT, ports)
    # Teams find it on the dispatcher's Service, port "team".
    service_ports = {p["name"]: p for p in target.find("Service", "dispatcher")["spec"]["ports"]}
    assert service_ports["team"]["port"] == TEAM_PORT
    assert service_ports["team"]["appProtocol"] == "grpc"
    env = target.env_of(target.find("Deployment", "dispatcher"))
    assert env["LINGUA_TEAM_PORT"] == str(ports["team"]) == str(TEAM_PORT)


def test_every_credential_comes_from_a_secret(target: Rendered) -> None:
    secrets = {
        "LINGUA_SERVICE_TOKEN": "lingua-service-credential",
        "LINGUA_TEAM_TOKENS": "lingua-team-tokens",
    }
    scheduler = [
        d
        for d in target.deployments()
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "scheduler"
    ]
    assert {d["metadata"]["name"] for d in scheduler} == {*SERVICES, "console"}
    for deployment in scheduler:
        env = target.env_of(deployment)
        wanted = ["LINGUA_SERVICE_TOKEN"]
        if deployment["metadata"]["name"] in ("dispatcher", "console"):
            wanted.append("LINGUA_TEAM_TOKENS")
        for name in wanted:
            ref = env[name]["secretKeyRef"]
            assert ref["name"].startswith(secrets[name]) and ref["key"] == name
    assert not set(secrets) & set(target.config())


def test_the_console_is_deployed_with_the_team_tokens_and_the_team_api(
    target: Rendered,
) -> None:
    console = target.find("Deployment", "console")
    assert containers(console)[0]["command"] == ["python", "-m", "services.console"]
    env = target.env_of(console)
    assert env["LINGUA_DISPATCHER_TEAM_ADDRESS"] == f"dispatcher:{TEAM_PORT}"
    assert "LINGUA_AUTH_DISABLED" not in env
    target.find("Service", "console")
    namespace = namespace_of(target)
    page, ports = pod_of(target, "console", namespace)
    operators = Pod("ops", {}, {"kubernetes.io/metadata.name": "ops", "lingua-console": "allowed"})
    anyone = Pod("elsewhere", {}, {"kubernetes.io/metadata.name": "elsewhere"})
    assert allowed(target, operators, page, ports["http"], ports)
    assert not allowed(target, anyone, page, ports["http"], ports)


def test_the_gateway_trusts_the_ingress_address_range(target: Rendered) -> None:
    value = target.config()["LINGUA_TRUSTED_PROXIES"]
    assert parse_networks(value), value


def test_dev_generates_placeholder_credentials_prod_none(dev: Rendered, prod: Rendered) -> None:
    names = {s["metadata"]["name"].rsplit("-", 1)[0] for s in dev.of_kind("Secret")}
    assert {"lingua-service-credential", "lingua-team-tokens"} <= names
    assert not prod.of_kind("Secret")
