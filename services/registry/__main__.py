"""`python -m services.registry`: run the registry service until SIGTERM."""

from __future__ import annotations

import os

from lingua_common.logs import configure_logging
from lingua_common.runtime import run_app
from services.registry.app import build_app
from services.registry.settings import RegistrySettings


def main() -> None:
    settings = RegistrySettings.from_env(os.environ)
    configure_logging("registry", settings.server.log_format, settings.server.log_level)
    run_app("registry", settings.server, lambda: build_app(settings))


if __name__ == "__main__":
    main()
