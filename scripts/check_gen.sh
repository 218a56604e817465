#!/usr/bin/env bash
# Fails when regenerating the protos would change anything under gen/.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
scripts/gen_protos.sh "$tmp"
if ! diff -r -q -x __pycache__ "$tmp/lingua" gen/lingua >/dev/null; then
  echo "gen/ is stale: run 'make gen' and commit the result" >&2
  diff -r -x __pycache__ "$tmp/lingua" gen/lingua | head -40 >&2
  exit 1
fi
echo "generated code is up to date"
