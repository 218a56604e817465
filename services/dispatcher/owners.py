"""Which gateway holds each node's socket, as the gateways say over their links.

A gateway's hello lists the nodes it holds; node_held / node_lost follow as sockets come
and go. A node is reachable from this replica while the gateway holding it is linked to
it: an assignment for a node whose gateway is not linked would only wait in a queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Owner:
    gateway_id: str
    epoch: int


class NodeOwners:
    def __init__(self) -> None:
        self._by_node: dict[str, Owner] = {}
        self._by_gateway: dict[str, set[str]] = {}
        self._linked: dict[str, int] = {}  # gateway id -> streams open

    # --- what the gateways say ---------------------------------------------------------------

    def hello(self, gateway_id: str, nodes: Iterable[tuple[str, int]]) -> None:
        """A gateway's snapshot: exactly these nodes are its own now."""
        fresh = dict(nodes)
        for node_id in list(self._by_gateway.get(gateway_id, ())):
            if node_id not in fresh:
                self._forget(gateway_id, node_id)
        for node_id, epoch in fresh.items():
            self.held(gateway_id, node_id, epoch)

    def held(self, gateway_id: str, node_id: str, epoch: int) -> None:
        current = self._by_node.get(node_id)
        # A newer registration wins, whichever gateway reports first.
        if current is not None and current.gateway_id != gateway_id and current.epoch > epoch:
            return
        if current is not None and current.gateway_id != gateway_id:
            self._forget(current.gateway_id, node_id)
        self._by_node[node_id] = Owner(gateway_id, epoch)
        self._by_gateway.setdefault(gateway_id, set()).add(node_id)

    def lost(self, gateway_id: str, node_id: str, epoch: int) -> None:
        current = self._by_node.get(node_id)
        if current == Owner(gateway_id, epoch):
            self._forget(gateway_id, node_id)

    def linked(self, gateway_id: str) -> None:
        self._linked[gateway_id] = self._linked.get(gateway_id, 0) + 1

    def unlinked(self, gateway_id: str) -> None:
        left = self._linked.get(gateway_id, 0) - 1
        if left > 0:
            self._linked[gateway_id] = left
        else:
            self._linked.pop(gateway_id, None)

    # --- what placement asks -----------------------------------------------------------------

    def of(self, node_id: str) -> Owner | None:
        return self._by_node.get(node_id)

    def reachable(self, node_id: str) -> Owner | None:
        """The node's owner when its gateway is linked to this replica now."""
        owner = self._by_node.get(node_id)
        return owner if owner is not None and owner.gateway_id in self._linked else None

    def is_linked(self, gateway_id: str) -> bool:
        return gateway_id in self._linked

    def nodes_of(self, gateway_id: str) -> frozenset[str]:
        return frozenset(self._by_gateway.get(gateway_id, ()))

    def _forget(self, gateway_id: str, node_id: str) -> None:
        self._by_node.pop(node_id, None)
        nodes = self._by_gateway.get(gateway_id)
        if nodes is not None:
            nodes.discard(node_id)
            if not nodes:
                del self._by_gateway[gateway_id]
