#!/usr/bin/env bash
# The README's first command: install on first run, migrate, then serve API + SPA on one URL, with
# one training worker and (unless IMAGING_AI_DICOM_LISTENER=false) the DICOM listener beside it, all
# stopped together with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if command -v node >/dev/null 2>&1; then
  scripts/frontend.sh build   # first run: npm ci + vite build; later: skipped unless the sources changed
else
  echo "==> Node.js 20.19+ not found: serving the web app's placeholder page" >&2
fi
export IMAGING_AI_DATA_DIR="${IMAGING_AI_DATA_DIR:-$PWD/var}"
# Local http://127.0.0.1 has no TLS, so the session cookie cannot be `Secure` here; any deployment
# reached over a network keeps the default (true) behind HTTPS.
export IMAGING_AI_COOKIE_SECURE="${IMAGING_AI_COOKIE_SECURE:-false}"
.venv/bin/imaging-ai migrate
.venv/bin/imaging-ai sync-models >/dev/null
.venv/bin/imaging-ai worker &
pids=("$!")
case "${IMAGING_AI_DICOM_LISTENER:-true}" in
  [Ff][Aa][Ll][Ss][Ee] | 0 | [Nn][Oo] | [Oo][Ff][Ff]) ;;
  *)
    echo "==> DICOM listener: AE title ${IMAGING_AI_DICOM_AE_TITLE:-IMAGING_AI} on ${IMAGING_AI_DICOM_HOST:-127.0.0.1}:${IMAGING_AI_DICOM_PORT:-11112}"
    .venv/bin/imaging-ai dicom-listener &
    pids+=("$!")
    ;;
esac
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
echo "==> serving on http://${IMAGING_AI_HOST:-127.0.0.1}:${IMAGING_AI_PORT:-8000} (API docs at /docs)"
.venv/bin/imaging-ai serve
