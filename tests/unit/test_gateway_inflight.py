"""InFlight: a connection's concurrent work is bounded in count and bytes; admission
waits (backpressure) instead of dropping, and one oversized item may run alone."""

from __future__ import annotations

import asyncio

from services.gateway.inflight import InFlight


async def hold(gate: asyncio.Event, log: list[str], name: str) -> None:
    log.append(f"start {name}")
    await gate.wait()
    log.append(f"end {name}")


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_admission_waits_for_a_task_slot() -> None:
    work, gate, log = InFlight(max_tasks=2, max_bytes=1000), asyncio.Event(), []
    await work.run(hold(gate, log, "a"), 1)
    await work.run(hold(gate, log, "b"), 1)
    third = asyncio.create_task(work.run(hold(gate, log, "c"), 1))
    await settle()
    assert not third.done() and work.count == 2
    gate.set()
    await asyncio.wait_for(third, 1)
    await settle()
    assert log.count("start c") == 1 and work.count == 0 and work.bytes == 0


async def test_admission_waits_for_bytes_and_lets_one_oversized_item_run_alone() -> None:
    work, gate, log = InFlight(max_tasks=10, max_bytes=100), asyncio.Event(), []
    await work.run(hold(gate, log, "small"), 60)
    big = asyncio.create_task(work.run(hold(gate, log, "big"), 500))
    await settle()
    assert not big.done() and work.bytes == 60
    gate.set()
    await asyncio.wait_for(big, 1)
    assert work.bytes in (500, 0)
    await settle()
    assert work.bytes == 0 and "end big" in log


async def test_a_failing_task_gives_its_room_back() -> None:
    work = InFlight(max_tasks=1, max_bytes=10)

    async def boom() -> None:
        raise RuntimeError("x")

    await work.run(boom(), 5)
    await settle()
    assert (work.count, work.bytes) == (0, 0)
    done = asyncio.Event()

    async def mark() -> None:
        done.set()

    await asyncio.wait_for(work.run(mark(), 5), 1)
    await asyncio.wait_for(done.wait(), 1)
