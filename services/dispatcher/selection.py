"""Node choice: power of two random choices over a random sample, least utilised wins.

A full scan for the least loaded node herds every dispatcher onto the same node;
two random choices keep load balanced with no coordination. Between two equally
loaded nodes, one on the session's own gateway wins (its answer then never crosses
another gateway).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    node_id: str
    utilisation: float
    local: bool = False

    @property
    def rank(self) -> tuple[float, bool]:
        return (self.utilisation, not self.local)


def power_of_two_order(options: list[Option], rng: random.Random) -> list[Option]:
    """An order to try nodes in: each step keeps the better of two random picks."""
    remaining = list(options)
    order: list[Option] = []
    while remaining:
        if len(remaining) == 1:
            order.append(remaining.pop())
            break
        a, b = rng.sample(range(len(remaining)), 2)
        pick = a if remaining[a].rank <= remaining[b].rank else b
        order.append(remaining.pop(pick))
    return order


Utilisation = Callable[[str], float]
