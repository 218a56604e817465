"""What `grpcurl` does with a command line, done in Python (grpcurl is not installed
here): the README's and the launcher's grpcurl lines are run through this, so the very
text a reader copies is what the tests prove works.

Like grpcurl it knows nothing of our protos: it learns the method from the server's
reflection service, turns the `-d` JSON into the request with the standard protobuf
JSON mapping, sends the `-H` headers as metadata, and prints the reply as JSON.
Supported: `-plaintext`, `-H 'name: value'` (repeatable), `-d '<json>'`, then the
address and `package.Service/Method` (unary methods).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


@dataclass(frozen=True)
class GrpcurlCall:
    address: str
    method: str
    headers: tuple[tuple[str, str], ...] = ()
    data: str = "{}"
    plaintext: bool = False


def parse(command: str) -> GrpcurlCall:
    """A grpcurl command line, after the shell's own expansion (`$(cat file)` etc.: bash
    expands it exactly as it would for grpcurl)."""
    expanded = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command.removeprefix('grpcurl').strip()}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = expanded.split("\0")[:-1]
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


def call(command: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """Run a grpcurl command line; the reply as grpcurl prints it (a JSON object).
    A failed call raises grpc.RpcError, as grpcurl exits non-zero."""
    parsed = parse(command)
    assert parsed.plaintext, "only -plaintext lines are emulated"
    with grpc.insecure_channel(parsed.address) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service_name, _, method_name = parsed.method.rpartition("/")
        method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
        request_class = message_factory.GetMessageClass(method.input_type)
        response_class = message_factory.GetMessageClass(method.output_type)
        request = json_format.Parse(parsed.data, request_class())
        stub = channel.unary_unary(
            f"/{service_name}/{method_name}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=response_class.FromString,
        )
        reply = stub(request, metadata=parsed.headers, timeout=timeout_s)
        printed: dict[str, Any] = json_format.MessageToDict(reply)
        return printed
