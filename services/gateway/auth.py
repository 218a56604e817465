"""Who is connecting: node tokens and client API keys, checked at the WebSocket handshake.

A credential comes in a header (`Authorization: Bearer …` or `X-Api-Key: …`) or, for
peers that can only change their URL, as a query parameter (`?token=…` on /ws/node,
`?api_key=…` on /ws/session). Every configured secret is compared in constant time, all
of them every time, so neither the answer time nor an early exit tells which one matched.
The registry never sees a node's token: only a salted fingerprint of it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers

from services.gateway.settings import AuthSettings

NODE_QUERY_PARAM = "token"
CLIENT_QUERY_PARAM = "api_key"


@dataclass(frozen=True)
class Identity:
    """What a connection proved at its handshake."""

    # The salted fingerprint of a node's token ("" when auth is off).
    credential_fingerprint: str = ""
    # The tenant a client's API key is bound to ("" : none, the client names its own).
    tenant: str = ""


ANONYMOUS = Identity()


class AuthError(Exception):
    """The handshake is refused; the message says why (never echoing the secret)."""


def presented_credential(headers: Headers, target: str, query_param: str) -> str:
    """The credential a handshake carries: headers first, then the query parameter."""
    authorization = headers.get("Authorization", "")
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = headers.get("X-Api-Key", "").strip()
    if api_key:
        return api_key
    values = parse_qs(urlsplit(target).query).get(query_param, [])
    return values[0].strip() if values else ""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


class Authenticator:
    def __init__(self, settings: AuthSettings) -> None:
        self._disabled = settings.disabled
        self._salt = settings.credential_salt.encode()
        self._node_tokens = [_digest(token) for token in settings.node_tokens]
        self._client_keys = [(_digest(key), tenant) for key, tenant in settings.client_keys]

    @property
    def disabled(self) -> bool:
        return self._disabled

    def node(self, headers: Headers, target: str) -> Identity:
        if self._disabled:
            return ANONYMOUS
        token = presented_credential(headers, target, NODE_QUERY_PARAM)
        if not token:
            raise AuthError(f"missing node token (Authorization: Bearer or ?{NODE_QUERY_PARAM}=)")
        presented = _digest(token)
        matched = False
        for known in self._node_tokens:
            matched |= hmac.compare_digest(presented, known)
        if not matched:
            raise AuthError("invalid node token")
        return Identity(credential_fingerprint=self.fingerprint(token))

    def client(self, headers: Headers, target: str) -> Identity:
        if self._disabled:
            return ANONYMOUS
        key = presented_credential(headers, target, CLIENT_QUERY_PARAM)
        if not key:
            raise AuthError(f"missing API key (X-Api-Key or ?{CLIENT_QUERY_PARAM}=)")
        presented = _digest(key)
        tenant: str | None = None
        for known, known_tenant in self._client_keys:
            if hmac.compare_digest(presented, known):
                tenant = known_tenant
        if tenant is None:
            raise AuthError("invalid API key")
        return Identity(tenant=tenant)

    def fingerprint(self, token: str) -> str:
        """Stable across replicas (same salt), useless for logging in as the node."""
        mac = hmac.new(self._salt, token.encode("utf-8", "surrogateescape"), hashlib.sha256)
        return "hmac-sha256:" + mac.hexdigest()[:32]
