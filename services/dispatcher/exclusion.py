"""Nodes a job will not go to again: excluded per connection, not forever.

A job records each node that failed it as "node_id@epoch" (job_abandon.lua): the node
is excluded while it still runs under that epoch. A node that registered again has a
newer epoch (a new connection, a restarted agent) and is a candidate for the job again;
excluding it for good left jobs waiting out NO_AVAILABLE_NODE while their node was back
and serving. An entry without an epoch (a record written before this rule) excludes the
node whatever its epoch, as it did then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SEPARATOR = "@"


def exclusion_entry(node_id: str, epoch: int) -> str:
    """How a job records that `node_id`, under `epoch`, failed it."""
    return f"{node_id}{SEPARATOR}{epoch}"


@dataclass(frozen=True)
class Exclusions:
    # node id -> the newest epoch excluded (None: every epoch).
    _upto: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Exclusions:
        upto: dict[str, int | None] = {}
        for entry in entries:
            node_id, sep, epoch = entry.rpartition(SEPARATOR)
            if not sep or not node_id or not epoch.isdigit():
                upto[entry] = None
                continue
            if node_id in upto and upto[node_id] is None:
                continue  # excluded at every epoch already
            upto[node_id] = max(int(epoch), upto.get(node_id) or 0)
        return cls(upto)

    def covers(self, node_id: str, epoch: int) -> bool:
        """Whether the node, now under `epoch`, is still excluded."""
        if node_id not in self._upto:
            return False
        upto = self._upto[node_id]
        return upto is None or epoch <= upto

    @property
    def always(self) -> frozenset[str]:
        """Nodes excluded at every epoch (the index can leave them out at once)."""
        return frozenset(n for n, upto in self._upto.items() if upto is None)
