"""What `grpcurl` does with a command line, done in Python (grpcurl is not installed
here): the README's and the launcher's grpcurl lines are run through this, so the very
text a reader copies is what the tests prove works.

Like grpcurl it knows nothing of our protos: it learns the method from the server's
reflection service, turns the `-d` JSON into the request with the standard protobuf
JSON mapping, sends the `-H` headers as metadata, and prints the reply as JSON.
Supported: `-plaintext`, `-H 'name: value'` (repeatable), `-d '<json>'`, then the
address and either `list` or `package.Service/Method` (unary methods).

The words are the shell's: `run_sh` runs a README block with bash, `grpcurl` being a
function that records its arguments, so quoting, `\\` continuations and `$(cat …)`
expand exactly as they would for the real grpcurl.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


@dataclass(frozen=True)
class GrpcurlCall:
    address: str
    method: str  # "list", or "package.Service/Method"
    headers: tuple[tuple[str, str], ...] = ()
    data: str = "{}"
    plaintext: bool = False


def parse_words(words: list[str]) -> GrpcurlCall:
    headers: list[tuple[str, str]] = []
    data, plaintext, positional = "{}", False, []
    iterator = iter(words)
    for word in iterator:
        if word == "-plaintext":
            plaintext = True
        elif word == "-H":
            name, _, value = next(iterator).partition(":")
            headers.append((name.strip().lower(), value.strip()))
        elif word == "-d":
            data = next(iterator)
        elif word.startswith("-"):
            raise ValueError(f"grpcurl flag {word!r} is not emulated")
        else:
            positional.append(word)
    address, method = positional
    return GrpcurlCall(address, method, tuple(headers), data, plaintext)


def run_sh(script: str, workdir: Path) -> list[list[str]]:
    """Run a shell snippet with bash; the argument lists of its grpcurl commands."""
    recorder = 'grpcurl() { printf "%s\\0" "$@" > "$GRPCURL_DIR/$((GRPCURL_N++))"; }\nGRPCURL_N=0\n'
    calls = workdir / "grpcurl-calls"
    calls.mkdir(exist_ok=True)
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", recorder + script],
        env={"GRPCURL_DIR": str(calls), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=30,
    )
    files = sorted(calls.iterdir(), key=lambda p: int(p.name))
    return [p.read_text().split("\0")[:-1] for p in files]


def call(command: str, timeout_s: float = 10.0) -> Any:
    """Run one grpcurl command line (as a shell would expand it); what grpcurl prints."""
    expanded = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command.removeprefix('grpcurl').strip()}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return call_words(expanded.split("\0")[:-1], timeout_s)


def call_words(words: list[str], timeout_s: float = 10.0) -> Any:
    """A grpcurl call from its arguments: the reply as JSON (a dict), the service names
    for `list`. A failed call raises grpc.RpcError, as grpcurl exits non-zero."""
    parsed = parse_words(words)
    assert parsed.plaintext, "only -plaintext lines are emulated"
    with grpc.insecure_channel(parsed.address) as channel:
        if parsed.method == "list":
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            replies = stub.ServerReflectionInfo(iter([request]), metadata=parsed.headers)
            return sorted(s.name for r in replies for s in r.list_services_response.service)
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service_name, _, method_name = parsed.method.rpartition("/")
        method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request_message = json_format.Parse(parsed.data, request_class())
        stub = channel.unary_unary(
            f"/{service_name}/{method_name}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        reply = stub(request_message, metadata=parsed.headers, timeout=timeout_s)
        return json_format.MessageToDict(reply)
