#!/usr/bin/env bash
# Makes sure redis-server and redis-cli exist; installs them with apt-get when possible.
set -euo pipefail
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "redis-server not found: installing it with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
redis-server is required and could not be installed automatically.
Install it and run the command again:
  Debian/Ubuntu: sudo apt-get install redis-server
  macOS:         brew install redis
MSG
exit 1
