"""The services' collector settings: startup objects frozen, passes made rarer."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lingua_common.runtime import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_tune_gc_freezes_what_exists_and_raises_the_thresholds(restored_gc: None) -> None:
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    # Young passes rarer than the default, full passes rarer still.
    assert GC_THRESHOLDS[0] > 700 and GC_THRESHOLDS[2] > 10
