"""The address a WebSocket comes from, as limits and logs should count it.

Behind a load balancer or an ingress every socket's TCP peer is the proxy, so one
client's limit would be everyone's. When the peer is a trusted proxy, the client is
the rightmost address of X-Forwarded-For that is not itself a trusted proxy (each
proxy appends the address it saw; what a client wrote to the left is not believed).
With no trusted proxies configured the header is ignored: a client cannot pick the
address its limit is counted against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

FORWARDED_FOR = "X-Forwarded-For"
# A header longer than this (many hops or padding) is not walked: the peer counts.
MAX_FORWARDED_HOPS = 32


def parse_networks(spec: str) -> tuple[Network, ...]:
    """ "10.0.0.0/8, 192.168.1.7" -> networks (ValueError names a bad entry)."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an address or network: {item!r}") from exc
    return tuple(networks)


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[Network] = ()) -> None:
        self._trusted = tuple(trusted_proxies)

    def of(self, peer: str, forwarded_for: list[str]) -> str:
        """The client's address: the peer, or, behind trusted proxies, the address the
        nearest untrusted hop was seen from. `forwarded_for` is every X-Forwarded-For
        value in order."""
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        if not hops or len(hops) > MAX_FORWARDED_HOPS:
            return peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer  # a proxy we trust wrote something we cannot read
            if not self._is_trusted(str(address)):
                return str(address)
        return peer

    def _is_trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in net for net in self._trusted)


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
