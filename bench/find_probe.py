"""FindCandidates cost: over gRPC against the pool service, and in memory.

One plan of lookups (pairs weighted like the fleet, some with a preferred pool, some
excluding a few members) is run twice: sequentially (closed loop, one call at a time,
so no call waits behind another) through PoolService.FindCandidates, and on a
LanguageIndex built in this process from the same entries: the pool's own code path,
without gRPC, protobuf and the event loop.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from lingua.common.v1 import node_pb2
from lingua.pool.v1 import pool_service_pb2 as pool_pb
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua_common.channels import BearerChannel
from lingua_common.language_index import LanguageIndex, NodeEntry, Pair
from tools.fleet.metrics import summarize

REQUIRED = ("asr", "nmt")
CALL_TIMEOUT_S = 5.0
MEMORY_SLICE = 200  # in-memory calls between two yields to the event loop
YIELD_S = 0.002  # a real pause, so this process's heartbeat timer keeps its schedule
PREFERRED_SHARE = 1 / 3
EXCLUDE_SHARE = 1 / 4
EXCLUDED_PER_CALL = 2


@dataclass(frozen=True)
class Lookup:
    pair: Pair
    exclude: tuple[str, ...] = ()
    preferred_shard: int | None = None

    @property
    def preferred_pool_id(self) -> str:
        if self.preferred_shard is None:
            return ""
        return f"{self.pair[0]}:{self.pair[1]}#{self.preferred_shard}"


def plan(
    members: dict[Pair, list[str]], shards: dict[Pair, int], count: int, seed: int
) -> list[Lookup]:
    """`count` lookups, pairs drawn in proportion to their size (as traffic would be)."""
    rng = random.Random(seed)
    pairs = sorted(members)
    weights = [len(members[p]) for p in pairs]
    lookups: list[Lookup] = []
    for _ in range(count):
        pair = rng.choices(pairs, weights)[0]
        exclude: tuple[str, ...] = ()
        if rng.random() < EXCLUDE_SHARE:
            exclude = tuple(rng.sample(members[pair], min(EXCLUDED_PER_CALL, len(members[pair]))))
        preferred = None
        if shards.get(pair, 1) > 1 and rng.random() < PREFERRED_SHARE:
            preferred = rng.randrange(shards[pair])
        lookups.append(Lookup(pair, exclude, preferred))
    return lookups


@dataclass
class FindReport:
    calls: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: Counter[str] = field(default_factory=Counter)
    short: int = 0  # fewer candidates than min(limit, eligible members)
    foreign: int = 0  # a candidate that is not an eligible member of the pair
    preferred_calls: int = 0
    preferred_first: int = 0  # ... whose first candidate came from the preferred pool
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": dict(self.errors),
            "short_answers": self.short,
            "foreign_candidates": self.foreign,
            "preferred_calls": self.preferred_calls,
            "preferred_first": self.preferred_first,
            "elapsed_s": self.elapsed_s,
            "latency": summarize(self.latencies).as_dict(),
        }


def _check(
    report: FindReport,
    lookup: Lookup,
    found: Sequence[str],
    members: dict[Pair, set[str]],
    limit: int,
) -> None:
    pair_members = members.get(lookup.pair, set())
    excluded = set(lookup.exclude)
    eligible = len(pair_members) - len(excluded & pair_members)
    if len(found) < min(limit, eligible):
        report.short += 1
    report.foreign += sum(1 for n in found if n not in pair_members or n in excluded)


async def run_grpc(
    address: str,
    lookups: Sequence[Lookup],
    members: dict[Pair, set[str]],
    limit: int,
    service_token: str = "",
) -> FindReport:
    report = FindReport()
    raw = grpc.aio.insecure_channel(address)
    channel: grpc.aio.Channel = BearerChannel(raw, service_token) if service_token else raw
    try:
        stub = pool_grpc.PoolServiceStub(channel)
        started = time.perf_counter()
        for lookup in lookups:
            request = pool_pb.FindCandidatesRequest(
                pair=node_pb2.LanguagePair(src=lookup.pair[0], tgt=lookup.pair[1]),
                required_service_types=REQUIRED,
                exclude_node_ids=lookup.exclude,
                limit=limit,
                preferred_pool_id=lookup.preferred_pool_id,
            )
            t = time.perf_counter()
            try:
                reply = await stub.FindCandidates(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as error:
                report.errors[error.code().name] += 1
                continue
            report.latencies.append(time.perf_counter() - t)
            report.calls += 1
            _check(report, lookup, [c.node_id for c in reply.candidates], members, limit)
            if lookup.preferred_shard is not None:
                report.preferred_calls += 1
                if reply.candidates and reply.candidates[0].pool_id == lookup.preferred_pool_id:
                    report.preferred_first += 1
        report.elapsed_s = time.perf_counter() - started
    finally:
        await channel.close(None)
    return report


def build_index(
    entries: Sequence[tuple[str, frozenset[Pair]]], ready: frozenset[str]
) -> LanguageIndex:
    """The pool's data structure, with the same nodes (same shard size, same hashing)."""
    index = LanguageIndex(rng=random.Random(0))
    for version, (node_id, pairs) in enumerate(entries, start=1):
        index.apply(node_id, NodeEntry(pairs=pairs, ready=ready), version)
    return index


async def run_in_memory(
    index: LanguageIndex, lookups: Sequence[Lookup], members: dict[Pair, set[str]], limit: int
) -> FindReport:
    """Time `candidates()` per call; yields to the event loop between slices, so the
    heartbeats this process sends keep their schedule (the yields are not timed)."""
    report = FindReport()
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for first in range(0, len(lookups), MEMORY_SLICE):
        for lookup in lookups[first : first + MEMORY_SLICE]:
            t = clock()
            found = index.candidates(
                lookup.pair, REQUIRED, lookup.exclude, limit, lookup.preferred_shard
            )
            report.latencies.append((clock() - t) / 1e9)
            report.calls += 1
            _check(report, lookup, found, members, limit)
            if lookup.preferred_shard is not None:
                report.preferred_calls += 1
                if found and index.shard_of(lookup.pair, found[0]) == lookup.preferred_shard:
                    report.preferred_first += 1
        await asyncio.sleep(YIELD_S)
    report.elapsed_s = time.perf_counter() - started
    return report
