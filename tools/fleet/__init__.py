"""tools.fleet: a simulated fleet of GPU nodes and web clients speaking PROTOCOL.md."""

from tools.fleet.answers import Answer, ClientReport
from tools.fleet.client import ClientConfig, FakeClient
from tools.fleet.fleet import Fleet, FleetConfig
from tools.fleet.metrics import LatencyRecorder, LatencySummary
from tools.fleet.node import FakeNode, NodeConfig, NodeStats
from tools.fleet.report import FleetReport

__all__ = [
    "Answer",
    "ClientConfig",
    "ClientReport",
    "FakeClient",
    "FakeNode",
    "Fleet",
    "FleetConfig",
    "FleetReport",
    "LatencyRecorder",
    "LatencySummary",
    "NodeConfig",
    "NodeStats",
]
