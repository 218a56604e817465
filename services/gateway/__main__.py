"""`python -m services.gateway`: run the WebSocket gateway until SIGTERM."""

from __future__ import annotations

import os
import sys

from lingua_common.env import SettingsError
from lingua_common.logs import configure_logging
from lingua_common.runtime import run_app
from services.gateway.app import build_app
from services.gateway.settings import GatewaySettings


def main() -> None:
    try:
        settings = GatewaySettings.from_env(os.environ)
    except SettingsError as exc:
        sys.exit(f"gateway: refusing to start: {exc}")
    configure_logging("gateway", settings.server.log_format, settings.server.log_level)
    run_app("gateway", settings.server, lambda: build_app(settings))


if __name__ == "__main__":
    main()
