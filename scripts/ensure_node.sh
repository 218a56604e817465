#!/usr/bin/env bash
# buf comes from npm: make sure node and npm exist (apt-get when possible).
set -euo pipefail
if command -v npm >/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "npm not found: installing nodejs and npm with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  exit 0
fi
echo "npm is required for buf (make check); install Node.js and npm." >&2
exit 1
