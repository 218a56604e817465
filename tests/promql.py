"""Series selectors of PromQL expressions (alert rules, dashboard queries), for the tests
that check every metric and label they name against what the services export."""

from __future__ import annotations

import promql_parser

from tests.metrics_scrape import Samples

# Made by Prometheus itself for every target, not exported by a service.
PROMETHEUS_SERIES = {"up"}
# Labels Prometheus attaches from the target (README "Metrics": pod labels, instance).
TARGET_LABELS = {"instance", "job", "namespace", "pod"}


def selectors(expr: str) -> list[promql_parser.VectorSelector]:
    """Every series selector in the expression (inside range vectors too)."""
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def metric_name(selector: promql_parser.VectorSelector) -> str:
    if selector.name:
        return selector.name
    named = [m.value for m in selector.matchers.matchers if m.name == "__name__"]
    assert named, "a selector without a metric name"
    return named[0]


def is_target_label(label: str) -> bool:
    return label in TARGET_LABELS or label.startswith("app_kubernetes_io_")


def unknown_series(where: str, expr: str, exported: Samples) -> list[str]:
    """What `expr` names that no service exports: metrics, labels, label values."""
    problems = []
    for selector in selectors(expr):
        name = metric_name(selector)
        if name in PROMETHEUS_SERIES:
            continue
        if name not in exported.names():
            problems.append(f"{where}: {name} is exported by no service")
            continue
        label_sets = exported.labels_of(name)
        for matcher in selector.matchers.matchers:
            if matcher.name == "__name__" or is_target_label(matcher.name):
                continue
            values = {labels.get(matcher.name) for labels in label_sets}
            if values == {None}:
                problems.append(f"{where}: {name} has no label {matcher.name}")
            elif matcher.op == promql_parser.MatchOp.Equal and matcher.value not in values:
                problems.append(
                    f"{where}: {name}{{{matcher.name}={matcher.value!r}}} never "
                    f"appears (values: {sorted(v for v in values if v)})"
                )
    return problems
