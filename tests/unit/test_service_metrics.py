"""The services' metric classes: labels made up front (alert rules can name them before
any traffic), and the mappings from domain outcomes to labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from services.dispatcher.metrics import PLACEMENT_OUTCOMES, DispatcherMetrics
from services.dispatcher.model import JobState, Reservation
from services.dispatcher.placement import Outcome
from services.gateway.metrics import GatewayMetrics
from services.registry.metrics import RegistryMetrics
from services.registry.model import NodeStatus
from tests.metrics_scrape import Samples


def samples_of(registry: CollectorRegistry) -> Samples:
    return Samples().add_text(generate_latest(registry).decode())


def test_placement_labels_are_the_placement_outcomes() -> None:
    assert set(PLACEMENT_OUTCOMES) == {outcome.value for outcome in Outcome}


def test_dispatcher_series_exist_before_any_traffic() -> None:
    registry = CollectorRegistry()
    DispatcherMetrics(registry)
    samples = samples_of(registry)
    for state in ("completed", "failed", "cancelled"):
        assert ("lingua_jobs_finished_total", frozenset({("state", state)})) in samples.values
    outcomes = {labels["outcome"] for labels in samples.labels_of("lingua_placements_total")}
    assert outcomes == set(PLACEMENT_OUTCOMES)
    reasons = {labels["reason"] for labels in samples.labels_of("lingua_failovers_total")}
    assert reasons == {"timeout", "node_lost", "gateway_lost", "other"}
    assert samples.get("lingua_dispatch_latency_seconds_count") == 0


def test_dispatcher_outcomes_land_on_their_labels() -> None:
    registry = CollectorRegistry()
    metrics = DispatcherMetrics(registry)
    metrics.finished(JobState.FAILED, "NO_AVAILABLE_NODE")
    metrics.finished(JobState.FAILED, "JOB_TIMEOUT")
    metrics.finished(JobState.COMPLETED, "")
    metrics.failover("JOB_TIMEOUT", counts=True)
    metrics.failover("NODE_UNAVAILABLE", counts=True)
    metrics.failover("NODE_UNAVAILABLE", counts=False)
    metrics.failover("SOMETHING_NEW", counts=True)
    for outcome in (
        Reservation.RESERVED,
        Reservation.HELD,  # the attempt had the slot already: it counts as reserved
        Reservation.FULL,
        Reservation.NOT_READY,
        Reservation.CONFLICT,
    ):
        metrics.reserved(outcome)
    samples = samples_of(registry)
    assert samples.get("lingua_jobs_finished_total", state="failed") == 2
    assert samples.get("lingua_no_available_node_total") == 1
    assert [
        samples.get("lingua_failovers_total", reason=reason)
        for reason in ("timeout", "node_lost", "gateway_lost", "other")
    ] == [1, 1, 1, 1]
    assert [
        samples.get("lingua_reservations_total", outcome=outcome)
        for outcome in ("reserved", "node_full", "node_not_ready", "conflict")
    ] == [2, 1, 1, 1]


def test_registry_and_gateway_series_exist_before_any_traffic() -> None:
    registry = CollectorRegistry()
    RegistryMetrics(registry)
    GatewayMetrics(registry)
    samples = samples_of(registry)
    statuses = {labels["status"] for labels in samples.labels_of("lingua_nodes")}
    assert statuses == {status.value for status in NodeStatus}
    kinds = {labels["kind"] for labels in samples.labels_of("lingua_connections")}
    assert kinds == {"node", "session"}
    outcomes = {labels["outcome"] for labels in samples.labels_of("lingua_heartbeats_total")}
    assert outcomes == {"ok", "stale_epoch", "offline", "missing", "error"}
