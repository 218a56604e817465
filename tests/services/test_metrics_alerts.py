"""Every metric an alert rule names is one the running services export.

The four services run in process (metrics on free ports) and are scraped over HTTP; the
names come from parsing each alert expression with a PromQL parser, so functions,
keywords, label names and aggregation clauses are never mistaken for metrics, and a
histogram or counter is matched by the series name Prometheus stores (`_bucket`,
`_total`, ...), not by its family name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lingua_common.settings import RedisSettings
from tests.deploy.manifests import ALERTS_FILE
from tests.metrics_scrape import Samples, scrape
from tests.promql import metric_name, selectors, unknown_series
from tests.suite import InProcessSuite, grpc_address


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS_FILE.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


@pytest.fixture
async def exported(single_redis_settings: RedisSettings) -> AsyncIterator[Samples]:
    suite = await InProcessSuite(single_redis_settings, gateways=1).start()
    try:
        for app in suite.apps:  # a unary call each (a probe's), so per-call series exist
            async with grpc.aio.insecure_channel(grpc_address(app)) as channel:
                await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        yield await scrape(*(app.ports["metrics"] for app in suite.apps))
    finally:
        await suite.stop()


def test_the_parser_sees_metrics_not_functions_keywords_or_labels() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, outcome) (rate(a_seconds_bucket{x="y"}[5m])))'
        " > on() group_left max(b_total offset 5m) unless count without (instance) (c) or up"
    )
    assert [metric_name(s) for s in selectors(expr)] == [
        "a_seconds_bucket",
        "b_total",
        "c",
        "up",
    ]
    assert metric_name(selectors('{__name__="d_total", k="v"}')[0]) == "d_total"


def test_there_are_alert_rules_for_what_issue_6_asks() -> None:
    named = {metric_name(s) for rule in alert_rules() for s in selectors(rule["expr"])}
    assert named >= {
        "up",
        "lingua_nodes",
        "lingua_no_available_node_total",
        "lingua_dispatch_latency_seconds_bucket",
        "lingua_pending_jobs",
        "lingua_failovers_total",
        "lingua_redis_errors_total",
    }


async def test_every_alert_names_metrics_the_services_export(exported: Samples) -> None:
    problems = [
        problem
        for rule in alert_rules()
        for problem in unknown_series(rule["alert"], rule["expr"], exported)
    ]
    assert not problems, "\n".join(problems)
