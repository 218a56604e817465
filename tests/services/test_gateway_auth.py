"""Authentication through real WebSockets: refused handshakes (HTTP 401), tokens and keys
in headers or in the URL, tenants bound to API keys, and node-id ownership by token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from lingua_common.keys import Keys
from lingua_common.redis_client import connect as redis_connect
from lingua_common.settings import RedisSettings
from services.gateway.auth import Authenticator
from services.gateway.settings import AuthSettings
from tests.peers import Peer, heartbeat_message, register_message, utterance_message
from tests.services.gateway_helpers import http_status, running_suite
from tests.suite import InProcessSuite

AUTH = AuthSettings(
    node_tokens=("node-token-a", "node-token-b"),
    client_keys=(("key-acme", "acme"), ("key-open", "")),
)
INIT = {
    "type": "session_init",
    "client_version": "t/1",
    "platform": "web",
    "src_lang": "zh",
    "tgt_lang": "en",
}


@pytest.fixture
async def auth_suite(redis_settings: RedisSettings) -> AsyncIterator[InProcessSuite]:
    async with running_suite(redis_settings, gateways=2, auth=AUTH) as suite:
        yield suite


async def refused(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as exc:
        await connect(url, additional_headers=headers, proxy=None)
    response = exc.value.response
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return response.status_code


async def redis_hash(suite: InProcessSuite, key: str) -> dict[str, str]:
    client = redis_connect(suite.redis)
    try:
        raw = await client.hgetall(key)  # type: ignore[misc]
    finally:
        await client.aclose()
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_handshakes_without_valid_credentials_get_401(auth_suite: InProcessSuite) -> None:
    base = auth_suite.ws_url()
    assert await refused(base + "/ws/node") == 401
    assert await refused(base + "/ws/node?token=wrong") == 401
    assert await refused(base + "/ws/node", {"Authorization": "Bearer key-acme"}) == 401
    assert await refused(base + "/ws/session") == 401
    assert await refused(base + "/ws/session?api_key=node-token-a") == 401
    assert await refused(base + "/ws/session?token=key-acme") == 401  # the node's parameter
    # Probes need no credentials.
    port = auth_suite.gateway_apps[0].ports["ws"]
    assert await http_status(port, "/healthz") == 200
    assert await http_status(port, "/readyz") == 200


async def test_a_node_token_in_the_url_or_a_header_registers_with_its_fingerprint(
    auth_suite: InProcessSuite,
) -> None:
    base = auth_suite.ws_url()
    by_url = await Peer.open(base + "/ws/node?token=node-token-a")
    await by_url.send(register_message())
    node_id = (await by_url.expect("node_register_ack"))["node_id"]
    record = await redis_hash(auth_suite, Keys(auth_suite.redis.key_prefix).node(node_id))
    fingerprint = Authenticator(AUTH).fingerprint("node-token-a")
    assert record["cred"] == fingerprint
    assert "node-token-a" not in str(record)
    by_header = Peer(
        await connect(
            base + "/ws/node", additional_headers={"Authorization": "Bearer node-token-b"}
        )
    )
    await by_header.send(register_message())
    assert (await by_header.expect("node_register_ack"))["node_id"] != node_id
    await by_header.close()
    await by_url.close()


async def test_a_live_node_id_cannot_be_claimed_with_another_token(
    auth_suite: InProcessSuite,
) -> None:
    owner = await Peer.open(auth_suite.ws_url(0) + "/ws/node?token=node-token-a")
    await owner.send(register_message())
    node_id = (await owner.expect("node_register_ack"))["node_id"]
    await owner.send(heartbeat_message(node_id))
    thief = await Peer.open(auth_suite.ws_url(1) + "/ws/node?token=node-token-b")
    await thief.send(register_message(node_id=node_id))
    assert (await thief.expect("error"))["code"] == "NODE_ID_CONFLICT"
    # The rightful owner reconnecting (same token, any replica) takes its id back.
    again = await Peer.open(auth_suite.ws_url(1) + "/ws/node?token=node-token-a")
    await again.send(register_message(node_id=node_id))
    assert (await again.expect("node_register_ack"))["node_id"] == node_id
    await thief.close()
    await again.close()
    await owner.close()


async def test_an_api_key_binds_the_session_to_its_tenant(auth_suite: InProcessSuite) -> None:
    base = auth_suite.ws_url()
    client = Peer(await connect(base + "/ws/session", additional_headers={"X-Api-Key": "key-acme"}))
    await client.send({**INIT, "tenant_id": "globex"})
    error = await client.expect("error")
    assert error["code"] == "UNAUTHENTICATED" and "globex" in error["message"]
    await client.send(INIT)  # no tenant named: the key's tenant applies
    session_id = (await client.expect("session_init_ack"))["session_id"]
    record = await redis_hash(auth_suite, Keys(auth_suite.redis.key_prefix).session(session_id))
    assert record["tenant"] == "acme"
    await client.close()
    # A key without a tenant lets the client name its own.
    open_key = await Peer.open(base + "/ws/session?api_key=key-open")
    await open_key.send({**INIT, "tenant_id": "initech"})
    session_id = (await open_key.expect("session_init_ack"))["session_id"]
    record = await redis_hash(auth_suite, Keys(auth_suite.redis.key_prefix).session(session_id))
    assert record["tenant"] == "initech"
    await open_key.send(utterance_message(session_id, 0, b"x"))
    assert (await open_key.expect("error"))["code"] == "NO_AVAILABLE_NODE"
    await open_key.close()
