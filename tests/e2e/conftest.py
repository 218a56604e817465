from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.launcher.stack import Stack, StackConfig


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole suite as separate processes: private redis, 4 services, 2 gateways."""
    run_dir: Path = tmp_path_factory.mktemp("stack")
    running = Stack(StackConfig(gateway_ws_ports=(0, 0), run_dir=run_dir)).start()
    yield running
    codes = running.stop()
    assert all(code == 0 for code in codes.values()), codes
