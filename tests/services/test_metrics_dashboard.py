"""The Grafana dashboard (k8s/base/grafana/lingua-dashboard.json): every query names
metrics, label matchers, grouping labels and legend labels that the running services
export, and it has the panels issue 16 asks for.

The services run in process and are scraped over HTTP with a job waiting in a pair's
line (so the per-pair gauge has a series) and a unary call answered by each (so the
per-call series exist)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import promql_parser
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lingua.common.v1 import job_pb2
from lingua.dispatcher.v1 import dispatcher_service_pb2 as dpb
from lingua.dispatcher.v1 import dispatcher_service_pb2_grpc as dgrpc
from lingua_common.settings import RedisSettings
from tests.deploy.manifests import DASHBOARD_FILE
from tests.metrics_scrape import Samples, scrape
from tests.promql import is_target_label, metric_name, selectors, unknown_series
from tests.suite import InProcessSuite, grpc_address, team_address

# Grafana's own variables, as Grafana substitutes them before Prometheus sees a query.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
LEGEND_LABEL = re.compile(r"{{\s*(\w+)\s*}}")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return loaded


def queries() -> list[tuple[str, str, str]]:
    """(panel title, expression as Prometheus gets it, legend format) of every target."""
    found = []
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], expr, target.get("legendFormat", "")))
    return found


def grouping_labels(expr: str) -> list[list[str]]:
    """The `by (...)` labels of every aggregation in the expression."""
    found: list[list[str]] = []

    def visit(node: promql_parser.Expr) -> None:
        if (
            isinstance(node, promql_parser.AggregateExpr)
            and node.modifier is not None
            and node.modifier.type == promql_parser.AggModifierType.By
        ):
            found.append(list(node.modifier.labels))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


@pytest.fixture
async def exported(single_redis_settings: RedisSettings) -> AsyncIterator[Samples]:
    suite = await InProcessSuite(single_redis_settings, gateways=1).start()
    try:
        for app in suite.apps:
            async with grpc.aio.insecure_channel(grpc_address(app)) as channel:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        async with grpc.aio.insecure_channel(team_address(suite.dispatcher)) as channel:
            submitted = await dgrpc.DispatcherServiceStub(channel).SubmitJob(
                dpb.SubmitJobRequest(
                    request_id="dashboard/1",
                    audio=b"a",
                    audio_format="pcm16",
                    sample_rate=16000,
                    src_lang="xx",
                    tgt_lang="yy",
                )
            )
        # Nobody serves xx->yy yet: the job waits in its pair's line (LINGUA_NO_NODE_WAIT_MS).
        assert submitted.job.state == job_pb2.JOB_STATE_PENDING
        yield await scrape(*(app.ports["metrics"] for app in suite.apps))
    finally:
        await suite.stop()


def test_the_dashboard_has_the_panels_issue_16_asks_for() -> None:
    named = {metric_name(s) for _, expr, _ in queries() for s in selectors(expr)}
    assert named >= {
        "lingua_jobs_created_total",
        "lingua_jobs_finished_total",  # job outcomes
        "lingua_dispatch_latency_seconds_bucket",
        "lingua_result_latency_seconds_bucket",
        "lingua_pending_jobs",
        "lingua_pending_jobs_by_pair",
        "lingua_nodes",
        "lingua_connections",
        "lingua_grpc_server_handled_total",
        "lingua_redis_errors_total",
    }
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["refId"] for t in panel["targets"]), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    assert dashboard()["templating"]["list"][0]["type"] == "datasource"


async def test_every_dashboard_query_names_what_the_services_export(exported: Samples) -> None:
    problems = []
    for title, expr, legend in queries():
        problems.extend(unknown_series(title, expr, exported))
        labels_in_expr: set[str] = set()
        for selector in selectors(expr):
            for labels in exported.labels_of(metric_name(selector)):
                labels_in_expr.update(labels)
        for group in grouping_labels(expr):
            for label in group:
                if label not in labels_in_expr and not is_target_label(label):
                    problems.append(f"{title}: grouping by {label}, which no series has")
        groups = grouping_labels(expr)
        for label in LEGEND_LABEL.findall(legend):
            if not any(label in group for group in groups):
                problems.append(f"{title}: legend {{{{{label}}}}} is not a grouping label")
    assert not problems, "\n".join(problems)
