"""`python -m services.console`: run the console until SIGTERM."""

from __future__ import annotations

import os

from lingua_common.logs import configure_logging
from lingua_common.runtime import run_app
from services.console.app import build_app
from services.console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings.from_env(os.environ)
    configure_logging("console", settings.server.log_format, settings.server.log_level)
    run_app("console", settings.server, lambda: build_app(settings))


if __name__ == "__main__":
    main()
