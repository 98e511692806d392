#!/usr/bin/env bash
# The README's first command: install on first run, migrate, serve API + SPA on one URL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export IMAGING_AI_DATA_DIR="${IMAGING_AI_DATA_DIR:-$PWD/var}"
.venv/bin/imaging-ai migrate
echo "==> serving on http://${IMAGING_AI_HOST:-127.0.0.1}:${IMAGING_AI_PORT:-8000} (API docs at /docs)"
exec .venv/bin/imaging-ai serve
