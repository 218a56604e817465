#!/usr/bin/env bash
# Makes sure Debian's chromium exists for the console's browser test (Playwright drives
# this system browser; nothing downloads a browser of its own). Installs it with apt-get
# when possible, as scripts/ensure_redis.sh does for redis-server.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "chromium not found: installing it with apt-get (for the console's browser test)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
chromium is needed by the console's browser test (tests/console/test_console_browser.py)
and could not be installed automatically. Install it and run the command again:
  Debian/Ubuntu: sudo apt-get install chromium
Without it that test is skipped outside CI (and fails in CI).
MSG
exit 1
