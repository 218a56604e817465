#!/usr/bin/env bash
# Regenerates the Python code for protos/ into the given folder (default: gen).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gen}"
python="$(command -v "${PYTHON:-python}")"
# Absolute, but not through symlinks (a venv's python is one): the generator runs in protos/.
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/lingua"
mapfile -t files < <(cd protos && find lingua -name '*.proto' | LC_ALL=C sort)
(cd protos && "$python" -m grpc_tools.protoc -I . \
  --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" "${files[@]}")
# Regular packages so setuptools and mypy see them without namespace guessing.
find "$out/lingua" -type d -exec touch {}/__init__.py \;
