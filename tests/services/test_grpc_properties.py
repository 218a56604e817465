"""Every RPC of every gRPC API (the team API and the service-to-service API), fuzzed with
hypothesis from its request message's descriptor (proto_fuzz.py), against the whole suite
with authentication on (each API called with the credential it takes): no input gets
UNKNOWN or INTERNAL (a handler that blew up), no unary call hangs, no error's details
grow with the input, and no log line does either. The services still serve afterwards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lingua.dispatcher.v1 import dispatcher_service_pb2 as dispatcher_pb
from lingua.dispatcher.v1 import gateway_link_service_pb2 as link_pb
from lingua.gateway.v1 import gateway_service_pb2 as gateway_pb
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua_common.api_auth import ApiAuthSettings
from lingua_common.logs import JsonFormatter
from lingua_common.operator_auth import TokenTable
from lingua_common.settings import RedisSettings
from tests.services.proto_fuzz import messages
from tests.suite import LOCAL, InProcessSuite, grpc_address, team_address

SERVICE_TOKEN = "fuzz-service-token"
TEAM_TOKEN = "fuzz-team-token"
BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
UNARY_TIMEOUT_S = 10.0  # far beyond any answer: reaching it is a hang
STREAM_LOOK_S = 0.3  # a stream that is still open then is serving (a watch waits)
MAX_DETAILS = 512
MAX_LOG_LINE = 4096


@dataclass(frozen=True)
class Rpc:
    service: str  # "registry", "pool", "gateway", "dispatcher", "team"
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    def __repr__(self) -> str:
        return self.path


def every_rpc() -> list[Rpc]:
    apis = [
        ("registry", registry_pb, "RegistryService"),
        ("pool", pool_pb, "PoolService"),
        ("gateway", gateway_pb, "GatewayService"),
        ("dispatcher", link_pb, "GatewayLinkService"),
        ("team", dispatcher_pb, "DispatcherService"),
    ]
    return [
        Rpc(where, method)
        for where, module, name in apis
        for method in module.DESCRIPTOR.services_by_name[name].methods
    ]


RPCS = every_rpc()


class LogLines(logging.Handler):
    """The longest log line (as a service writes it, JSON) while a test runs, and any
    handler that raised (gRPC logs it, then answers UNKNOWN)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("fuzz"))
        self.longest = ""
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if len(line) > len(self.longest):
            self.longest = line
        if "raised by servicer method" in record.getMessage():
            self.crashes.append(line[:3000])


@dataclass
class World:
    suite: InProcessSuite
    channels: dict[str, grpc.aio.Channel]
    outcomes: dict[str, dict[str, int]]

    def channel(self, rpc: Rpc) -> grpc.aio.Channel:
        return self.channels[rpc.service]

    def metadata(self, rpc: Rpc) -> tuple[tuple[str, str], ...]:
        token = TEAM_TOKEN if rpc.service == "team" else SERVICE_TOKEN
        return (("authorization", f"Bearer {token}"),)

    def saw(self, rpc: Rpc, code: grpc.StatusCode) -> None:
        counts = self.outcomes.setdefault(rpc.method.name, {})
        counts[code.name] = counts.get(code.name, 0) + 1


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    handler = LogLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    assert not handler.crashes, handler.crashes[0]
    assert len(handler.longest) <= MAX_LOG_LINE, handler.longest[:2000]


@pytest.fixture
async def world(single_redis_settings: RedisSettings, log_lines: LogLines) -> AsyncIterator[World]:
    auth = ApiAuthSettings(
        disabled=False,
        service_token=SERVICE_TOKEN,
        team_tokens=TokenTable.parse(f"{TEAM_TOKEN}:fuzz,operator-token:*"),
    )
    suite = await InProcessSuite(
        single_redis_settings,
        server=dataclasses.replace(LOCAL, auth=auth),
        # A job nobody can take fails at once instead of waiting (no call waits long).
        dispatcher_overrides={"no_node_wait_ms": 0, "pending_timeout_ms": 200},
    ).start()
    addresses = {
        "registry": grpc_address(suite.registry),
        "pool": grpc_address(suite.pool),
        "gateway": grpc_address(suite.gateway_apps[0]),
        "dispatcher": grpc_address(suite.dispatcher),
        "team": team_address(suite.dispatcher),
    }
    channels = {name: grpc.aio.insecure_channel(address) for name, address in addresses.items()}
    fuzzed = World(suite, channels, {})
    try:
        yield fuzzed
        # Whatever came in, every service still serves, and the team API still works.
        for name, channel in channels.items():
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
        print("fuzzed gRPC outcomes:", fuzzed.outcomes)
        assert len(fuzzed.outcomes) >= len(RPCS) * 3 // 4, fuzzed.outcomes  # reached most
    finally:
        for channel in channels.values():
            await channel.close(None)
        await suite.stop()


def check_status(world: World, rpc: Rpc, error: grpc.aio.AioRpcError) -> None:
    code = error.code()
    if code is grpc.StatusCode.INTERNAL and "execute_batch" in error.debug_error_string():
        # Not the server's answer: this side failed to write because the server had
        # ended the stream (a refusal). Had a handler raised, the log says so (above).
        world.saw(rpc, grpc.StatusCode.ABORTED)
        return
    world.saw(rpc, code)
    assert code not in BAD_CODES, (rpc, code, error.details())
    details = error.details() or ""
    assert len(details) <= MAX_DETAILS, (rpc, details[:300])


async def call_unary(world: World, rpc: Rpc, request: Message) -> None:
    response_class = GetMessageClass(rpc.method.output_type)
    stub = world.channel(rpc).unary_unary(
        rpc.path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    try:
        await stub(request, metadata=world.metadata(rpc), timeout=UNARY_TIMEOUT_S)
        world.saw(rpc, grpc.StatusCode.OK)
    except grpc.aio.AioRpcError as error:
        assert error.code() is not grpc.StatusCode.DEADLINE_EXCEEDED, (rpc, "hung")
        check_status(world, rpc, error)


async def call_streaming(world: World, rpc: Rpc, requests: list[Message]) -> None:
    response_class = GetMessageClass(rpc.method.output_type)
    serialize, deserialize = (lambda m: m.SerializeToString()), response_class.FromString
    channel, metadata = world.channel(rpc), world.metadata(rpc)
    call: Any
    if rpc.method.client_streaming:
        call = channel.stream_stream(rpc.path, serialize, deserialize)(
            iter(requests), metadata=metadata
        )
    else:
        call = channel.unary_stream(rpc.path, serialize, deserialize)(
            requests[0], metadata=metadata
        )
    try:
        # Everything the server says within a moment: answers, or how the stream ended.
        loop = asyncio.get_running_loop()
        until = loop.time() + STREAM_LOOK_S
        while (left := until - loop.time()) > 0:
            if await asyncio.wait_for(call.read(), left) is grpc.aio.EOF:
                break
        world.saw(rpc, grpc.StatusCode.OK)
    except TimeoutError:
        world.saw(rpc, grpc.StatusCode.OK)  # open and serving (a watch waits)
    except grpc.aio.AioRpcError as error:
        check_status(world, rpc, error)
    finally:
        call.cancel()


def link_frames(draw: st.DrawFn) -> list[Message]:
    """A link's frames: mostly a well-formed hello first (so the messages behind it are
    reached), then fuzzed frames."""
    frames: list[Message] = []
    if draw(st.integers(0, 3)):
        hello = link_pb.LinkHello(gateway_id="gw-fuzz")
        frames.append(link_pb.LinkRequest(hello=hello))
    frames += draw(st.lists(messages(link_pb.LinkRequest.DESCRIPTOR, depth=6), max_size=3))
    return frames or [link_pb.LinkRequest()]


@st.composite
def calls(draw: st.DrawFn) -> tuple[Rpc, list[Message]]:
    rpc = draw(st.sampled_from(RPCS))
    if rpc.method.name == "Link":
        return rpc, link_frames(draw)
    descriptor = rpc.method.input_type
    count = draw(st.integers(1, 2)) if rpc.method.client_streaming else 1
    return rpc, [draw(messages(descriptor, depth=5)) for _ in range(count)]


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(call=calls())
async def test_no_request_to_any_rpc_breaks_a_service(
    world: World, call: tuple[Rpc, list[Message]]
) -> None:
    rpc, requests = call
    if rpc.method.client_streaming or rpc.method.server_streaming:
        await call_streaming(world, rpc, requests)
    else:
        await call_unary(world, rpc, requests[0])
