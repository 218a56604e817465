"""Scenario "nodes": the node lifecycle at fleet size (10,000 simulated nodes).

Phases, all on one stack with two gateway replicas:
1. open every node's WebSocket (/ws/node, round-robin over the gateways), a bounded
   number of handshakes at a time;
2. register them: most with a bounded number outstanding (throughput, and the latency
   of a reconnect storm), the last few hundred one at a time at a fixed rate, with all
   the others registered (the latency a node sees on a busy scheduler);
3. every node beats on its slot of a common grid (700/s in total); once the index has
   settled, a window measures heartbeat cost (gRPC probe, the registry's own receive
   stamps, Redis, CPU) and checks the index version does not move;
4. FindCandidates over gRPC and on an in-process LanguageIndex with the same nodes
   (that one again once the stack has stopped: the index's own cost);
5. memory: Redis before and after, per key, and the gateways' RSS; node statuses;
6. every socket closes, and the run waits until the registry has them all offline.
Every phase is bounded; the sockets and the stack are closed on any exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import find_probe
from bench.beat_delivery import delivery_delays
from bench.beat_scheduler import BeatScheduler
from bench.catalog import RunContext, scenario
from bench.harness_gc import collection_paused
from bench.heartbeat_probe import ProbeConfig
from bench.node_mix import node_pairs, pair_sizes
from bench.node_swarm import Swarm
from bench.options import BenchOptions
from bench.probe_process import ProbeProcess
from bench.proc_stats import ProcSample
from bench.redis_stats import RedisStats
from bench.results import ScenarioResult
from bench.scenarios.nodes_config import NodesConfig, nodes_config
from bench.scenarios.nodes_rows import build_result
from bench.scenarios.nodes_run import NodesRun, Settle
from bench.scheduler_views import (
    StatusCount,
    count_ready_filtered,
    count_statuses,
    index_version,
    wait_index_settled,
)
from bench.service_histograms import Buckets, read_buckets
from bench.stack_runner import log_digest, running_stack, stack_config
from lingua.pool.v1 import pool_service_pb2_grpc as pool_grpc
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc
from lingua_common.channels import insecure_channel
from lingua_common.keys import Keys
from lingua_common.language_index import LanguageIndex, Pair
from tools.fleet.node_caps import SERVICE_TYPES
from tools.launcher.stack import Stack, StackConfig

log = logging.getLogger(__name__)

KEYS = Keys()  # the services' default prefix, which the launcher does not change
CROSS_CHECK_MAX = 2_000  # up to this many nodes, ListNodes is read unfiltered too
NODE_TOKEN = "bench-nodes-token"  # nodes present it as ?token= (a real agent's way)
CLIENT_KEY = "bench-nodes-key"  # configured so the gateway starts; no client connects


def nodes_stack_config(cfg: NodesConfig, run_dir: Path) -> StackConfig:
    """The bench's stack, with node auth on and room for every node on one address."""
    base = stack_config(cfg.gateways, cfg.registry_heartbeat_s, run_dir)
    env = {
        **base.env,
        # Nodes authenticate as in production (the launcher turns auth off by default).
        "LINGUA_AUTH_DISABLED": "false",
        "LINGUA_NODE_TOKENS": NODE_TOKEN,
        "LINGUA_CLIENT_API_KEYS": f"{CLIENT_KEY}:bench",
        # Every simulated node dials from 127.0.0.1.
        "LINGUA_MAX_CONNECTIONS_PER_IP": str(2 * cfg.nodes),
    }
    return replace(base, env=env)


def _pids(stack: Stack) -> dict[str, int]:
    pids = {"bench": os.getpid()}
    redis_process = getattr(stack.redis, "process", None)
    if redis_process is not None:
        pids["redis"] = redis_process.pid
    for service in stack.services:
        if service.process is not None:
            pids[service.name] = service.process.pid
    return pids


@asynccontextmanager
async def _stubs(
    stack: Stack,
) -> AsyncIterator[tuple[pool_grpc.PoolServiceStub, registry_grpc.RegistryServiceStub]]:
    assert stack.pool is not None and stack.registry is not None
    # The stack asks for its service credential (auth is on in this scenario).
    token = stack.credentials.service_token
    pool_channel = insecure_channel(stack.pool.grpc_address, token=token)
    registry_channel = insecure_channel(stack.registry.grpc_address, token=token)
    try:
        yield (
            pool_grpc.PoolServiceStub(pool_channel),
            registry_grpc.RegistryServiceStub(registry_channel),
        )
    finally:
        await pool_channel.close(None)
        await registry_channel.close(None)


InMemoryPlan = tuple[LanguageIndex, list[find_probe.Lookup], dict[Pair, set[str]]]


class NodesBench:
    def __init__(self, cfg: NodesConfig, stack: Stack, run: NodesRun) -> None:
        self.cfg = cfg
        self.stack = stack
        self.run = run
        self.pids = _pids(stack)
        self.swarm = Swarm(stack.gateway_urls, node_pairs(cfg.nodes, cfg.seed), NODE_TOKEN)
        self.beats = BeatScheduler(cfg.interval_s, cfg.nodes, self.swarm.beat, cfg.seed)
        self.in_memory: InMemoryPlan | None = None

    def sample(self, phase: str) -> None:
        self.run.procs[phase] = ProcSample.take(self.pids)

    async def measure(self) -> None:
        cfg, run = self.cfg, self.run
        try:
            async with RedisStats(self.stack.redis_url) as redis, _stubs(self.stack) as stubs:
                pool, registry = stubs
                run.memory["empty"] = await redis.memory()
                self.sample("empty")
                await self.register_bulk(pool)
                with collection_paused():
                    await self.register_paced()
                    await self.settle(pool, run.settle, self.expected())
                    run.memory["registered"] = await redis.memory()
                    self.sample("registered")
                    await self.key_memory(redis)
                    await self.heartbeat_window(redis, pool)
                    run.memory["after_window"] = await redis.memory()
                    self.sample("after_window")
                    await self.find_candidates(pool)
                log.info("counting node statuses")
                ours = {n.node_id for n in self.swarm.registered()}
                run.ready_filtered = await count_ready_filtered(registry, ours)
                if run.ready_filtered < len(ours) or len(ours) <= CROSS_CHECK_MAX:
                    # Every status (a second pass over every node): what the others are,
                    # or, when small, a cross-check of the status filter.
                    run.statuses = await count_statuses(registry, ours)
                else:
                    run.statuses = StatusCount(by_status=Counter(READY=run.ready_filtered))
                self.collect()
                await self.beats.stop()
                log.info("closing %d node sockets", cfg.nodes)
                await self.swarm.close()
                await self.wait_offline(redis)
        except BaseException:
            await self.beats.stop()
            self.swarm.abort()
            raise

    async def wait_offline(self, redis: RedisStats) -> None:
        """Until the registry has taken every node offline (the gateways report closed
        sockets after a grace period), so the stack stops with nothing in flight."""
        started = time.perf_counter()
        left = await redis.zcard(KEYS.nodes_last_seen())
        while left and time.perf_counter() - started < self.cfg.offline_timeout_s:
            await asyncio.sleep(0.25)
            left = await redis.zcard(KEYS.nodes_last_seen())
        self.run.offline_left, self.run.offline_s = left, time.perf_counter() - started

    def expected(self) -> dict[Pair, int]:
        return dict(pair_sizes([n.pairs for n in self.swarm.registered()]))

    async def register_bulk(self, pool: pool_grpc.PoolServiceStub) -> None:
        cfg, run, swarm = self.cfg, self.run, self.swarm
        log.info("connecting %d nodes over %d gateways", cfg.nodes, cfg.gateways)
        run.connect = await swarm.connect(swarm.nodes, cfg.connect_concurrency)
        urls = self.stack.gateway_urls
        for gateway in self.stack.gateways:
            run.connections_per_gateway[gateway.name] = 0
        for node in swarm.nodes:
            if node.ws is not None:
                gateway = self.stack.gateways[node.index % len(urls)]
                run.connections_per_gateway[gateway.name] += 1
        self.sample("connected")
        self.beats.start()
        log.info("registering %d nodes (%d outstanding)", cfg.bulk_nodes, cfg.register_concurrency)
        bulk = swarm.nodes[: cfg.bulk_nodes]
        run.bulk = await swarm.register(bulk, cfg.register_concurrency, self.beats.join)
        # The registry indexes off the request path: let the burst's backlog drain, so
        # the paced registrations meet a busy (heartbeats) but steady scheduler.
        await self.settle(pool, run.bulk_settle, self.expected())

    async def register_paced(self) -> None:
        cfg, run, swarm = self.cfg, self.run, self.swarm
        log.info("registering %d more at %g/s", cfg.paced, cfg.paced_rate)
        paced = swarm.nodes[cfg.bulk_nodes :]
        before = await self.registry_calls("RegisterNode")
        run.paced = await swarm.register_paced(paced, cfg.paced_rate, self.beats.join)
        run.register_server = (await self.registry_calls("RegisterNode")).minus(before)
        run.registered = len(swarm.registered())

    async def settle(
        self, pool: pool_grpc.PoolServiceStub, into: Settle, expected: dict[Pair, int]
    ) -> None:
        """Until the index holds every registered node and its version stands still."""
        log.info("waiting for the index to settle")
        into.view, into.settled, into.waited_s = await wait_index_settled(
            pool, expected, self.cfg.settle_timeout_s
        )

    async def key_memory(self, redis: RedisStats) -> None:
        run = self.run
        sample = self.swarm.registered()[: self.cfg.key_samples]
        per_node = {
            "record": KEYS.node,
            "history": KEYS.node_history,
            "owner": KEYS.node_owner,
            "inflight": KEYS.node_inflight,
        }
        for name, key_of in per_node.items():
            run.key_usage[name] = [await redis.memory_usage(key_of(n.node_id)) for n in sample]
        shared = {
            "nodes:all": KEYS.nodes_all(),
            "nodes:last_seen": KEYS.nodes_last_seen(),
            "events:nodes (stream)": KEYS.node_events(),
            "index:nodes": KEYS.index_nodes(),
            "index:seqs": KEYS.index_seqs(),
            "index:changes (stream)": KEYS.index_changes(),
        }
        for name, key in shared.items():
            run.shared_usage[name] = await redis.memory_usage(key)

    async def registry_calls(self, method: str) -> Buckets:
        """The registry's own histogram of one of its gRPC methods, as it stands now."""
        assert self.stack.registry is not None
        return await read_buckets(self.stack.registry.ports["metrics"], method)

    async def heartbeat_window(self, redis: RedisStats, pool: pool_grpc.PoolServiceStub) -> None:
        cfg, run = self.cfg, self.run
        assert self.stack.registry is not None
        # In a process of its own, as the registry's real callers are (probe_process.py).
        probe = ProbeProcess(
            ProbeConfig(
                address=self.stack.registry.grpc_address,
                service_token=self.stack.credentials.service_token,
                nodes=cfg.probe_nodes,
                rate=cfg.probe_rate,
                duration_s=cfg.window_s,
            )
        )
        try:
            await probe.open()
            # The probe's own nodes join the index (with no public pair, so in no pool):
            # wait until the version has stood still, so only the window can move it.
            await self.settle(pool, run.probe_settle, self.expected())
            run.index_before = await index_version(pool)
            await redis.reset_stats()
            before = ProcSample.take(self.pids)
            log.info("heartbeat window: %g s at %g/s", cfg.window_s, cfg.heartbeat_rate)
            self.beats.begin_window()
            calls_before = await self.registry_calls("Heartbeat")
            run.probe = await probe.measure()
            run.probe_server = (await self.registry_calls("Heartbeat")).minus(calls_before)
            run.window = self.beats.end_window()
            after = ProcSample.take(self.pids)
            run.window_cpu_s = after.cpu_since(before)
            run.window_machine_busy_s = after.machine_busy_since(before)
            run.load_after_window = list(os.getloadavg())
            run.index_after = await index_version(pool)
            run.redis_latency = await redis.latency_stats()
            run.redis_commands = await redis.command_stats()
            last_seen = await redis.zrange_scores(KEYS.nodes_last_seen())
            run.delivery = delivery_delays(self.swarm.registered(), last_seen)
            await probe.finish()
        finally:
            run.probe.errors = probe.errors
            await probe.close()

    async def find_candidates(self, pool: pool_grpc.PoolServiceStub) -> None:
        cfg, run = self.cfg, self.run
        assert self.stack.pool is not None
        members: dict[Pair, list[str]] = {}
        entries: list[tuple[str, frozenset[Pair]]] = []
        for node in self.swarm.registered():
            entries.append((node.node_id, frozenset(node.pairs)))
            for pair in node.pairs:
                members.setdefault(pair, []).append(node.node_id)
        member_sets = {pair: set(ids) for pair, ids in members.items()}
        view = run.settle.view
        shards = {p: n for p, n in (view.shards if view else {}).items() if p in members}
        log.info("FindCandidates: %d calls over gRPC", cfg.find_calls)
        lookups = find_probe.plan(members, shards, cfg.find_calls, cfg.seed)
        run.find_grpc = await find_probe.run_grpc(
            self.stack.pool.grpc_address,
            lookups,
            member_sets,
            cfg.find_limit,
            self.stack.credentials.service_token,
        )
        index = find_probe.build_index(entries, frozenset(SERVICE_TYPES))
        run.shards_match = all(index.shard_count(p) == n for p, n in shards.items()) and set(
            shards
        ) == set(members)
        log.info("FindCandidates: %d calls in memory", cfg.find_memory_calls)
        lookups = find_probe.plan(members, shards, cfg.find_memory_calls, cfg.seed + 1)
        run.find_memory = await find_probe.run_in_memory(
            index, lookups, member_sets, cfg.find_limit
        )
        self.in_memory = (index, lookups, member_sets)

    async def find_in_memory_quiet(self) -> None:
        """The same in-memory lookups again once the stack is down: the index's own
        cost, without 700 beats/s competing for the two cores."""
        if self.in_memory is None:
            return
        index, lookups, member_sets = self.in_memory
        gc.collect()
        log.info("FindCandidates: %d calls in memory, stack stopped", len(lookups))
        self.run.find_memory_quiet = await find_probe.run_in_memory(
            index, lookups, member_sets, self.cfg.find_limit
        )

    def collect(self) -> None:
        run, swarm = self.run, self.swarm
        run.lost = swarm.lost()
        run.node_errors = swarm.error_codes()
        run.other_messages = swarm.other_messages()
        run.heartbeats_sent = self.beats.sent
        run.heartbeats_failed = self.beats.failed
        run.heartbeats_skipped = self.beats.skipped


@scenario("nodes", "10,000 nodes: register, heartbeats at 700/s, FindCandidates, memory")
async def run_nodes(opts: BenchOptions, ctx: RunContext) -> ScenarioResult:
    cfg = nodes_config(opts)
    config = nodes_stack_config(cfg, ctx.run_dir)
    exit_codes: dict[str, int | None] = {}
    run = NodesRun(cfg)
    async with running_stack(config, exit_codes) as stack:
        bench = NodesBench(cfg, stack, run)
        await bench.measure()
    await bench.find_in_memory_quiet()
    logs = log_digest(stack)  # after the stop, so shutdown trouble shows too
    result = build_result(run, logs, exit_codes)
    data: dict[str, Any] = {
        "service_exit_codes": exit_codes,
        "service_logs": logs,
        "run_dir": str(ctx.run_dir),
    }
    result.data.update(data)
    return result
