#!/usr/bin/env bash
# Re-resolve the lock files from pyproject.toml's ranges.
#   scripts/lock.sh            keep every pinned version that still fits (after a range changed)
#   scripts/lock.sh --upgrade  take the newest releases the ranges allow (`make upgrade`)
# requirements/test.lock is resolved first (runtime + test + bench); requirements/app.lock (runtime
# only, for `make up`) is resolved against it, so both pin the same version of every shared package.
# Both carry every file hash of each pinned release, for every platform and Python >= 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
UV_VERSION=0.13.10
"$BIN/python" -m pip install --quiet "uv==$UV_VERSION"
compile() { "$BIN/uv" pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
  --no-header --quiet "$@"; }
upgrade=()
[ "${1:-}" = "--upgrade" ] && upgrade=(--upgrade)
mkdir -p requirements
compile "${upgrade[@]}" --extra test --extra bench -o requirements/test.lock
compile "${upgrade[@]}" -c requirements/test.lock -o requirements/app.lock
echo "locked: $(grep -c '^[a-z0-9]' requirements/test.lock) packages for tests, $(grep -c '^[a-z0-9]' requirements/app.lock) for the platform"
