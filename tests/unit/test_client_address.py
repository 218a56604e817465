"""Which address a socket is counted against, behind trusted proxies or not."""

from __future__ import annotations

import re

import pytest

from lingua_common.env import SettingsError
from services.gateway.client_address import MAX_FORWARDED_HOPS, ClientAddress, parse_networks
from services.gateway.settings import GatewaySettings

PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # No proxy in between: the peer, whatever the header says.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # Through the ingress: the address it saw.
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # Two trusted hops: the nearest untrusted one, not what the client wrote first.
        ("10.1.2.3", ["6.6.6.6, 198.51.100.1, 192.168.1.7"], "198.51.100.1"),
        # Several header lines count as one list, in order.
        ("10.1.2.3", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),
        # The proxy sent none, or only trusted hops: the proxy itself.
        ("10.1.2.3", [], "10.1.2.3"),
        ("10.1.2.3", ["10.9.9.9"], "10.1.2.3"),
        # Unreadable where a trusted proxy wrote: the peer, never a guess.
        ("10.1.2.3", ["198.51.100.1, not-an-ip"], "10.1.2.3"),
        # IPv6, and an IPv4 peer as a dual-stack socket reports it.
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_the_client_is_the_nearest_untrusted_hop(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert ClientAddress(PROXIES).of(peer, forwarded) == client


def test_without_trusted_proxies_the_header_is_never_believed() -> None:
    assert ClientAddress().of("10.1.2.3", ["198.51.100.1"]) == "10.1.2.3"


def test_a_padded_header_is_not_walked() -> None:
    padding = ", ".join(["198.51.100.1"] * (MAX_FORWARDED_HOPS + 1))
    assert ClientAddress(PROXIES).of("10.1.2.3", [padding]) == "10.1.2.3"


def test_a_bad_network_is_named() -> None:
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300/8'")):
        parse_networks("10.0.0.0/8,10.0.0.300/8")
    assert parse_networks(" , ") == ()


def test_the_gateway_reads_its_trusted_proxies_and_idle_timeout_from_env() -> None:
    base = {"LINGUA_AUTH_DISABLED": "1"}
    settings = GatewaySettings.from_env({**base, "LINGUA_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert settings.trusted_proxies == parse_networks("10.0.0.0/8")
    assert GatewaySettings.from_env(base).trusted_proxies == ()
    with pytest.raises(SettingsError, match="LINGUA_TRUSTED_PROXIES"):
        GatewaySettings.from_env({**base, "LINGUA_TRUSTED_PROXIES": "ingress"})
    assert GatewaySettings.from_env(base).node_idle_timeout_ms == 45_000
    slow = GatewaySettings.from_env({**base, "LINGUA_HEARTBEAT_INTERVAL_MS": "30000"})
    assert slow.node_idle_timeout_ms == 90_000
    with pytest.raises(SettingsError, match="LINGUA_NODE_IDLE_TIMEOUT_MS"):
        GatewaySettings.from_env({**base, "LINGUA_NODE_IDLE_TIMEOUT_MS": "0"})
