"""The harness's own garbage collection, kept out of what it measures."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No collection in this process while a measurement runs, as timeit does: with
    10,000 simulated nodes in it, one pass of the harness's collector stalled its loop
    52 ms, and every request in flight was charged for it. What exists now is frozen
    first (it lives for the whole run); the garbage made meanwhile is collected after."""
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
