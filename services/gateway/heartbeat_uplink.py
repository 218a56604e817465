"""Every node heartbeat of this gateway on one long-lived stream to the registry.

A unary call per beat costs ~1 ms of CPU across both ends (DESIGN.md); on a stream,
beats that arrive within a short linger, or while a batch is at the registry, travel
together in the next batch, and the registry records a batch in one Redis round trip.
One batch is under way at a time: the busier the registry, the fuller the batches,
never a queue of calls.

Waiting beats are bounded by the node connections (each node has at most one beat
here, see node_beats.py) and by `max_waiting`. A beat that cannot be sent in time
(registry down, stream broken) resolves as not recorded; the node's next beat tries
again. The stream is reopened with a bounded backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass

import grpc

from lingua.registry.v1 import registry_service_pb2 as registry_pb
from lingua.registry.v1 import registry_service_pb2_grpc as registry_grpc

logger = logging.getLogger(__name__)

NOT_RECORDED = "SCHEDULER_DEPENDENCY_DOWN"
MAX_BEATS_PER_BATCH = 1_000  # what the registry accepts in one batch
MAX_LINGER_S = 1.0  # far below the 15 s beat interval


@dataclass(frozen=True)
class UplinkSettings:
    # The registry handles a batch in one go without yielding its event loop: small
    # batches keep registrations and other calls from waiting behind a long one.
    max_batch: int = 32
    # How long the first beat of a batch waits for company. Nodes beat every 15 s and
    # get no reply, so a few ms of delay cost nothing, and fewer, fuller batches halve
    # the CPU a beat costs at both ends.
    linger_s: float = 0.02
    max_waiting: int = 50_000
    # A batch unanswered this long counts as lost: the stream is reopened.
    batch_timeout_s: float = 5.0
    reconnect_min_s: float = 0.05
    reconnect_max_s: float = 2.0


@dataclass(frozen=True)
class BeatResult:
    """ "" error_code: recorded (status is the node's); else the refusal's wire code."""

    error_code: str = ""
    error_message: str = ""


class _Waiting:
    __slots__ = ("beat", "future")

    def __init__(self, beat: registry_pb.HeartbeatRequest) -> None:
        self.beat = beat
        self.future: asyncio.Future[BeatResult] = asyncio.get_running_loop().create_future()


# Beats not yet in a batch, oldest first, by ticket (a dict: O(1) removal on timeout).
_Queue = dict[int, _Waiting]


class HeartbeatUplink:
    def __init__(
        self, registry: registry_grpc.RegistryServiceStub, settings: UplinkSettings
    ) -> None:
        self._registry = registry
        self._settings = settings
        self._waiting: _Queue = {}
        self._tickets = itertools.count()
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._batch_id = 0
        self._answered = 0  # batches answered, over all streams

    @property
    def waiting(self) -> int:
        """Beats not yet sent."""
        return len(self._waiting)

    @property
    def batches_answered(self) -> int:
        return self._answered

    async def beat(self, beat: registry_pb.HeartbeatRequest, timeout_s: float) -> BeatResult:
        """Send one beat with the next batch; its outcome, or NOT_RECORDED when it could
        not be delivered within `timeout_s`."""
        if len(self._waiting) >= self._settings.max_waiting:
            return BeatResult(NOT_RECORDED, "too many heartbeats waiting for the registry")
        ticket, waiting = next(self._tickets), _Waiting(beat)
        self._waiting[ticket] = waiting
        self._wake.set()
        if len(self._waiting) >= self._settings.max_batch:
            self._full.set()
        try:
            return await asyncio.wait_for(waiting.future, timeout_s)
        except TimeoutError:
            return BeatResult(NOT_RECORDED, "the registry did not answer in time")
        finally:
            # Timed out or cancelled before it was sent: it leaves the queue. (Once sent,
            # its answer finds the future done and is dropped.)
            self._waiting.pop(ticket, None)

    async def run(self) -> None:
        """Keep the stream open and feed it, until cancelled."""
        backoff = self._settings.reconnect_min_s
        while True:
            answered = self._answered
            call = self._registry.StreamHeartbeats()
            try:
                await self._pump(call)
            except (grpc.aio.AioRpcError, TimeoutError, ConnectionError) as error:
                logger.warning("heartbeat stream lost; reopening", extra={"error": str(error)})
            except Exception:
                logger.exception("heartbeat stream failed; reopening")
            finally:
                call.cancel()
            if self._answered != answered:
                backoff = self._settings.reconnect_min_s  # it worked for a while
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._settings.reconnect_max_s)

    async def _pump(self, call: grpc.aio.StreamStreamCall) -> None:  # type: ignore[type-arg]
        while True:
            batch = await self._next_batch()
            self._batch_id += 1
            try:
                await call.write(
                    registry_pb.StreamHeartbeatsRequest(
                        batch_id=self._batch_id, beats=[w.beat for w in batch]
                    )
                )
                reply = await asyncio.wait_for(call.read(), self._settings.batch_timeout_s)
            except BaseException:
                _resolve_all(batch, BeatResult(NOT_RECORDED, "heartbeat stream lost"))
                raise
            # Anything but this batch's answer (grpc.aio.EOF: the stream ended).
            if (
                not isinstance(reply, registry_pb.StreamHeartbeatsResponse)
                or reply.batch_id != self._batch_id
            ):
                _resolve_all(batch, BeatResult(NOT_RECORDED, "heartbeat stream ended"))
                raise ConnectionError("heartbeat stream ended or answered out of order")
            self._answered += 1
            for waiting, outcome in zip(batch, reply.outcomes, strict=False):
                _resolve(waiting, BeatResult(outcome.error_code, outcome.error_message))
            _resolve_all(batch[len(reply.outcomes) :], BeatResult(NOT_RECORDED, "no outcome"))

    async def _next_batch(self) -> list[_Waiting]:
        while True:
            if self._waiting and len(self._waiting) < self._settings.max_batch:
                await self._linger()
            batch: list[_Waiting] = []
            while self._waiting and len(batch) < self._settings.max_batch:
                batch.append(self._waiting.pop(next(iter(self._waiting))))
            if batch:
                return batch
            self._wake.clear()
            await self._wake.wait()

    async def _linger(self) -> None:
        """Wait up to linger_s for a full batch."""
        if self._settings.linger_s <= 0:
            return
        self._full.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._full.wait(), self._settings.linger_s)


def _resolve(waiting: _Waiting, result: BeatResult) -> None:
    if not waiting.future.done():
        waiting.future.set_result(result)


def _resolve_all(batch: list[_Waiting], result: BeatResult) -> None:
    for waiting in batch:
        _resolve(waiting, result)
