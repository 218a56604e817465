"""Reading a service's GET /metrics over real HTTP, for metrics tests (in-process apps
and launcher stacks alike: both record the bound port as ports["metrics"])."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


async def http_request(port: int, raw: bytes, wait_s: float = 5.0) -> HttpReply:
    """Send `raw` as is; read the whole answer (the endpoint closes after one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), wait_s)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpReply(int(status_line.split()[1]), headers, body)


async def http_get(port: int, path: str = "/metrics", method: str = "GET") -> HttpReply:
    return await http_request(port, f"{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


Labels = frozenset[tuple[str, str]]


class Samples:
    """Every sample of one or more scrapes, summed per (name, labels)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, Labels], float] = {}

    def add_text(self, text: str) -> Samples:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                self.values[key] = self.values.get(key, 0.0) + sample.value
        return self

    def names(self) -> set[str]:
        return {name for name, _ in self.values}

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for n, labels in self.values if n == name]

    def get(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include `labels` (0 if none)."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.values.items() if n == name and wanted <= ls)


async def scrape(*ports: int) -> Samples:
    """The samples of every port's /metrics, added up (as a sum over replicas would)."""
    samples = Samples()
    for port in ports:
        reply = await http_get(port)
        assert reply.status == 200, reply
        samples.add_text(reply.body.decode())
    return samples
