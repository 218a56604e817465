"""`python -m services.pool`: run the pool-index service until SIGTERM."""

from __future__ import annotations

import os

from lingua_common.logs import configure_logging
from lingua_common.runtime import run_app
from services.pool.app import build_app
from services.pool.settings import PoolSettings


def main() -> None:
    settings = PoolSettings.from_env(os.environ)
    configure_logging("pool", settings.server.log_format, settings.server.log_level)
    run_app("pool", settings.server, lambda: build_app(settings))


if __name__ == "__main__":
    main()
