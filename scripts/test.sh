#!/usr/bin/env bash
# The README's second command: every check and every test, on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

# The web app: Chromium for its browser test, npm deps, the build tests/e2e serves, and its own checks.
echo "==> web app (chromium, npm ci, build, check:api, tsc, eslint, vitest)"
scripts/frontend.sh chromium build test

# A real PACS for tests/pacs: Debian's Orthanc with its DICOMweb plugin, and dcmtk's echoscu/storescu.
if [ ! -x /usr/sbin/Orthanc ] || [ ! -f /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] \
  || ! command -v echoscu >/dev/null 2>&1; then
  echo "==> installing Orthanc, its DICOMweb plugin and dcmtk (apt)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    orthanc orthanc-dicomweb dcmtk >/dev/null
  # Debian's package starts a system Orthanc; the tests start their own on free ports.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now orthanc >/dev/null 2>&1 || true
  fi
fi

# PostgreSQL is part of the suite, not optional: start the local cluster if it is installed but down.
export IMAGING_AI_TEST_POSTGRES_URL="${IMAGING_AI_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
if ! .venv/bin/python - <<'PY' 2>/dev/null; then
import os, psycopg
url = os.environ["IMAGING_AI_TEST_POSTGRES_URL"].replace("postgresql+psycopg://", "postgresql://")
psycopg.connect(url, connect_timeout=3).close()
PY
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "==> starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
fi

echo "==> ruff"
.venv/bin/ruff check backend tests bench migrations
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest (SQLite and PostgreSQL; tests/e2e drives the web app in Chromium; two processes)"
# Two worker processes: much of the suite waits on servers, databases and subprocesses, so two halve
# its time on a 2-core machine (each PostgreSQL test database is per process). IMAGING_AI_TEST_WORKERS=0
# runs it in one process.
.venv/bin/pytest -n "${IMAGING_AI_TEST_WORKERS:-2}" --dist worksteal "$@"
