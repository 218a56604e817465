"""One Redis client per process (single server or Cluster) and the Lua script registry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lingua_common.settings import REPOSITORY_LUA_DIR, RedisSettings

RedisClient = aioredis.Redis | RedisCluster

LUA_DIR = REPOSITORY_LUA_DIR


class RoundTrips:
    """Round trips to Redis made by this process: every write of a command, or of a
    pipeline to one server, is one (read as a metric and by the benchmark)."""

    count = 0


class ClientLifetime:
    """Shared by a single-server client's pool and its connections: once the client is
    closed, nothing connects again. (A command still under way at shutdown, or one of
    redis-py's retries, would otherwise reconnect a connection the closed pool no longer
    tracks: a socket nobody closes.)"""

    def __init__(self) -> None:
        self.closed = False


class CountingConnection(aioredis.Connection):
    def __init__(self, *args: Any, lifetime: ClientLifetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lifetime = lifetime

    async def connect(self) -> None:
        if self._lifetime is not None and self._lifetime.closed:
            raise RedisConnectionError("redis client is closed")
        await super().connect()

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        RoundTrips.count += 1
        await super().send_packed_command(command, check_health)


UNSENT_RETRIES = 5
RECONNECT_RETRIES = 3
UNSENT_RETRY_DELAY_S = 0.1


def never_sent(error: BaseException) -> bool:
    """Errors redis-py's cluster client raises when a topology refresh tore down the
    connection a command was about to use: the command never left this process."""
    text = str(error)
    if isinstance(error, AttributeError):
        return "writelines" in text or "'NoneType' object has no attribute" in text
    return isinstance(error, RuntimeError) and "handler is closed" in text


class ResilientRedisCluster(RedisCluster):
    """RedisCluster that retries a command that provably never reached Redis.

    On CLUSTERDOWN / failover, redis-py 8 closes node connections while other commands
    are being handed them; those fail before anything is written and are not retried by
    the library. Retrying them (bounded) is safe, including for scripts.
    """

    _closed = False

    async def initialize(self, *args: Any, **kwargs: Any) -> ResilientRedisCluster:
        # redis-py re-initializes a closed cluster client on its next command, reopening
        # connections nobody will close; a late command during shutdown must fail instead.
        if self._closed:
            raise RedisConnectionError("redis cluster client is closed")
        await super().initialize(*args, **kwargs)
        return self

    async def close_for_good(self) -> None:
        """Close and stay closed. (redis-py itself calls aclose() to force a topology
        refresh after a failover, so aclose() must keep meaning "reconnect later".)"""
        self._closed = True
        await self.aclose()

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(UNSENT_RETRIES + 1):
            try:
                return await super().execute_command(*args, **kwargs)
            except (AttributeError, RuntimeError) as error:
                if attempt == UNSENT_RETRIES or not never_sent(error):
                    raise
                await asyncio.sleep(UNSENT_RETRY_DELAY_S * (attempt + 1))
        raise AssertionError("unreachable")


async def run_pipeline(
    client: RedisClient, build: Callable[[Any], None], *, raise_on_error: bool = True
) -> list[Any]:
    """Run a non-transactional pipeline, rebuilt and re-run when a failover tore down its
    connections before it was sent (see ResilientRedisCluster). Only for pipelines of
    reads and idempotent writes, which every caller here is. With raise_on_error=False
    a command's error is its reply, and the others' replies still count."""
    for attempt in range(UNSENT_RETRIES + 1):
        pipe = client.pipeline(transaction=False)
        build(pipe)
        try:
            result: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
            return result
        except (AttributeError, RuntimeError) as error:
            if attempt == UNSENT_RETRIES or not never_sent(error):
                raise
            await asyncio.sleep(UNSENT_RETRY_DELAY_S * (attempt + 1))
    raise AssertionError("unreachable")


def connect(settings: RedisSettings) -> RedisClient:
    """A pooled client; commands never share a connection across a blocking read.

    Pools are bounded (`max_connections`, per node on a cluster) and sized so bursts fit:
    redis-py's blocking pool would wait instead, but costs every command a lock.
    """
    if settings.cluster:
        return ResilientRedisCluster.from_url(
            settings.url,
            decode_responses=False,
            max_connections=settings.max_connections,
            socket_connect_timeout=settings.connect_timeout_s,
            connection_class=CountingConnection,
        )
    pool = aioredis.ConnectionPool.from_url(
        settings.url,
        decode_responses=False,
        max_connections=settings.max_connections,
        socket_connect_timeout=settings.connect_timeout_s,
        connection_class=CountingConnection,
        lifetime=ClientLifetime(),
        # A pooled connection that died with its server (a restart, a failover) fails its
        # next command: that command goes again on a fresh connection, a few times,
        # instead of failing the caller (every write here is a fenced or idempotent step).
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.25), RECONNECT_RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return aioredis.Redis.from_pool(pool)


async def close(client: RedisClient) -> None:
    """Close the process's client at shutdown; it then refuses to connect again."""
    if isinstance(client, ResilientRedisCluster):
        await client.close_for_good()
        return
    if isinstance(client, RedisCluster):
        await client.aclose()
        return
    lifetime = client.connection_pool.connection_kwargs.get("lifetime")
    if isinstance(lifetime, ClientLifetime):
        lifetime.closed = True
    await client.aclose()


async def initialize(client: RedisClient) -> None:
    """Connect before serving: a cluster client must learn the slot map once, up front
    (concurrent first commands on a lazy cluster client race its initialization)."""
    if isinstance(client, RedisCluster):
        await client.initialize()
    else:
        await client.ping()


class LuaScripts:
    """Scripts from lua/, each registered once per client (EVALSHA, NOSCRIPT reloads).

    `lua_dir` is RedisSettings.lua_dir (LINGUA_LUA_DIR); empty means the repository's."""

    def __init__(self, client: RedisClient, lua_dir: Path | str = LUA_DIR) -> None:
        self._client = client
        self._dir = Path(lua_dir) if lua_dir else LUA_DIR
        self._scripts: dict[str, AsyncScript] = {}

    def __getitem__(self, name: str) -> AsyncScript:
        script = self._scripts.get(name)
        if script is None:
            source = (self._dir / f"{name}.lua").read_text(encoding="utf-8")
            script = self._client.register_script(source)
            self._scripts[name] = script
        return script

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self[name](keys=keys, args=args)

    async def pipelined(self, build: Callable[[ScriptPipeline], None]) -> list[Any]:
        """Scripts and plain commands in one pipelined round trip (on a cluster each goes
        to its own slot's node). Replies in order; a script that met a Redis without it
        is run again alone, which loads it. The first other error is raised: every caller
        pipelines only steps that are safe to repeat."""
        recorded: list[tuple[int, str, list[str], list[Any]]] = []

        def fill(pipe: Any) -> None:
            recorded.clear()  # run_pipeline may build the pipeline again
            build(ScriptPipeline(self, pipe, recorded))

        replies = await run_pipeline(self._client, fill, raise_on_error=False)
        for position, name, keys, args in recorded:
            if isinstance(replies[position], NoScriptError):
                replies[position] = await self.run(name, keys, args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def run_many(
        self,
        name: str,
        calls: list[tuple[list[str], list[Any]]],
        then: Callable[[Any], None] | None = None,
    ) -> list[Any]:
        """One script over many key sets in one pipelined round trip (each call in its
        own slot, so this works on a cluster). A call's reply is its result or the error
        it raised. Calls that met a Redis without the script are run again one by one,
        which loads it. `then` adds idempotent commands to the same round trip (their
        replies are not returned)."""
        script = self[name]

        def calls_of(pipe: Any) -> None:
            for keys, args in calls:
                # Not pipe.evalsha: redis-py refuses that name in cluster pipelines (it
                # cannot load scripts there); a NOSCRIPT reply is handled below instead.
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            if then is not None:
                then(pipe)

        replies = await run_pipeline(self._client, calls_of, raise_on_error=False)
        replies = replies[: len(calls)]
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                keys, args = calls[i]
                try:
                    replies[i] = await script(keys=keys, args=args)
                except RedisError as error:
                    replies[i] = error
        return replies


class ScriptPipeline:
    """What LuaScripts.pipelined hands its builder: scripts by name, plus the raw
    pipeline (`.commands`) for plain commands."""

    def __init__(
        self, scripts: LuaScripts, pipe: Any, recorded: list[tuple[int, str, list[str], list[Any]]]
    ) -> None:
        self._scripts = scripts
        self.commands = pipe
        self._recorded = recorded

    def script(self, name: str, keys: list[str], args: list[Any]) -> None:
        self._recorded.append((len(self.commands), name, keys, args))
        # Not pipe.evalsha: redis-py refuses that name in cluster pipelines.
        self.commands.execute_command("EVALSHA", self._scripts[name].sha, len(keys), *keys, *args)
