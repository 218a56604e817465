"""The registry's own record of heartbeats: when it heard each node last.

The registry stamps a beat's server receive time (ms, the wall clock, taken when its
Heartbeat handler starts) in the sorted set nodes:last_seen. Matching each node's stamp
with the send time of the beat it belongs to gives the one-way delay WebSocket ->
gateway -> gRPC -> registry handler, for every node at once, without touching the
services. Same machine, same clock; the stamp's 1 ms resolution is taken at its middle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.node_swarm import SwarmNode

STAMP_RESOLUTION_MS = 1.0


@dataclass
class Delivery:
    delays_s: list[float] = field(default_factory=list)
    missing: int = 0  # registered nodes the registry has no stamp for
    unmatched: int = 0  # stamps older than every send we still remember


def delivery_delays(nodes: Sequence[SwarmNode], last_seen_ms: dict[str, float]) -> Delivery:
    result = Delivery()
    for node in nodes:
        stamp = last_seen_ms.get(node.node_id)
        if stamp is None:
            result.missing += 1
            continue
        # The newest beat sent before the stamp (a later one is still on its way).
        sent = [s for s in node.sends_ms if s <= stamp + STAMP_RESOLUTION_MS]
        if not sent:
            result.unmatched += 1
            continue
        delay_ms = stamp + STAMP_RESOLUTION_MS / 2 - max(sent)
        result.delays_s.append(max(0.0, delay_ms) / 1000.0)
    return result
