#!/usr/bin/env bash
# Create .venv and install the studio (pyproject.toml: package `core`, command `ner-studio`).
# Usage: scripts/install.sh [--dev]   (--dev adds the test tools)
# torch first, pinned, so that no other package can pull a different (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install -q -r requirements-dev.txt
else
  .venv/bin/python -m pip install -q -r requirements.txt
fi
echo "installed: $(pwd)/.venv/bin/ner-studio (run it from any folder, or 'source .venv/bin/activate' first)" >&2
