#!/usr/bin/env bash
# The web app's build and checks. Subcommands:
#   install   npm ci, only when frontend/package-lock.json changed (a stamp keyed on its hash)
#   build     type-check and build frontend/dist, skipped when the sources are unchanged
#   test      the client is fresh (check:api), tsc --noEmit, eslint, vitest run
#   gen-api   dump the backend's OpenAPI schema into frontend/openapi.json and regenerate the types
#   chromium  install Debian's chromium for the browser tests if /usr/bin/chromium is missing
#   e2e       chromium + build, then the browser loop under pytest (tests/e2e)
#   dev       the Vite dev server on :5173, proxying /api to http://127.0.0.1:8000 (make run)
# Several in one call run in order: scripts/frontend.sh chromium build test
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
    echo "Node.js 20.19+ and npm are required for the web app (apt-get install nodejs npm)." >&2
    exit 1
  }
}

install() {
  need_node
  local stamp
  stamp="frontend/node_modules/.installed-$(sha256sum frontend/package-lock.json | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "==> installing web app dependencies (npm ci)"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    rm -f frontend/node_modules/.installed-*
    touch "$stamp"
  fi
}

sources_hash() {
  (
    cd frontend
    find src index.html vite.config.ts tsconfig.json package-lock.json openapi.json -type f -print0 |
      sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
  )
}

build() {
  install
  local hash
  hash=$(sources_hash)
  if [ -f frontend/dist/index.html ] && [ "$(cat frontend/dist/.build-stamp 2>/dev/null)" = "$hash" ]; then
    echo "==> web app is up to date (frontend/dist)"
    return
  fi
  echo "==> building the web app (frontend/dist)"
  (cd frontend && npm run --silent build)
  echo "$hash" >frontend/dist/.build-stamp
}

test_frontend() {
  install
  echo "==> web app: generated client matches openapi.json"
  (cd frontend && npm run --silent check:api)
  echo "==> web app: tsc"
  (cd frontend && npx --no-install tsc --noEmit)
  echo "==> web app: eslint"
  (cd frontend && npx --no-install eslint .)
  echo "==> web app: vitest"
  (cd frontend && npx --no-install vitest run)
}

gen_api() {
  install
  [ -x .venv/bin/imaging-ai ] || scripts/bootstrap.sh
  local scratch
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' RETURN
  echo "==> dumping the API's OpenAPI schema into frontend/openapi.json"
  IMAGING_AI_DATA_DIR="$scratch" IMAGING_AI_DATABASE_URL="sqlite:///$scratch/schema.sqlite3" \
    IMAGING_AI_LOG_LEVEL=WARNING .venv/bin/imaging-ai openapi --out frontend/openapi.json
  echo "==> generating frontend/src/api/schema.d.ts"
  (cd frontend && npm run --silent gen:api)
}

chromium() {
  if [ -x /usr/bin/chromium ]; then
    return
  fi
  echo "==> installing Debian's chromium for the browser tests"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

e2e() {
  chromium
  build
  [ -x .venv/bin/pytest ] || scripts/bootstrap.sh
  .venv/bin/pytest tests/e2e "$@"
}

[ $# -gt 0 ] || set -- help
while [ $# -gt 0 ]; do
  command=$1
  shift
  case "$command" in
    install) install ;;
    build) build ;;
    test) test_frontend ;;
    gen-api) gen_api ;;
    chromium) chromium ;;
    e2e) e2e "$@"; exit ;;
    dev) install; cd "$root/frontend" && exec npm run dev ;;
    *)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 2
      ;;
  esac
done
