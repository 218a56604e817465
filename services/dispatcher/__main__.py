"""`python -m services.dispatcher`: run the dispatcher service until SIGTERM."""

from __future__ import annotations

import os

from lingua_common.logs import configure_logging
from lingua_common.runtime import run_app
from services.dispatcher.app import build_app
from services.dispatcher.settings import DispatcherSettings


def main() -> None:
    settings = DispatcherSettings.from_env(os.environ)
    configure_logging("dispatcher", settings.server.log_format, settings.server.log_level)
    run_app("dispatcher", settings.server, lambda: build_app(settings))


if __name__ == "__main__":
    main()
