"""Stopping background loops: a cancellation a library swallowed is delivered again."""

from __future__ import annotations

import asyncio

from lingua_common.grpc_app import cancel_and_wait


async def test_a_loop_that_lost_its_cancel_is_cancelled_again() -> None:
    swallowed = 0

    async def loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what wait_for in Python 3.11 can do to a cancel

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.02)
    assert await cancel_and_wait([task], 2.0) == set()
    assert task.cancelled() and swallowed == 1
