"""Node choice: power of two random choices over a random sample, least utilised wins.

A full scan for the least loaded node herds every dispatcher onto the same node;
two random choices keep load balanced with no coordination.
"""

from __future__ import annotations

import random

from services.dispatcher.model import NodeLoad


def power_of_two_order(loads: list[NodeLoad], rng: random.Random) -> list[NodeLoad]:
    """An order to try nodes in: each step keeps the less utilised of two random picks."""
    remaining = [n for n in loads if n.ready and n.free > 0 and n.owner_gateway]
    order: list[NodeLoad] = []
    while remaining:
        if len(remaining) == 1:
            order.append(remaining.pop())
            break
        a, b = rng.sample(range(len(remaining)), 2)
        pick = a if remaining[a].utilisation <= remaining[b].utilisation else b
        order.append(remaining.pop(pick))
    return order
