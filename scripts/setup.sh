#!/usr/bin/env bash
# Installs what mlserve needs on a fresh Debian 12 machine with Node 20:
# Debian's Python packages for the templates (PyPI is not needed), the npm
# dependencies, and the build. Safe to run again: it skips what is there.
# Usage: scripts/setup.sh [--with-bench] [--with-docker] [--with-redis] [--with-registry]
#   --with-bench adds wrk and haproxy; --with-docker the engine and debootstrap;
#   --with-redis Debian's redis-server (the shared AsyncAPI queue's tests start their own);
#   --with-registry Debian's docker-registry and apache2-utils (htpasswd) for push's tests, which start their own.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "mlserve needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

packages=(python3 python3-numpy python3-sklearn python3-fastapi python3-uvicorn procps)
for arg in "$@"; do
  case "$arg" in
    --with-bench) packages+=(wrk haproxy) ;;
    --with-docker) packages+=(docker.io debootstrap) ;;
    --with-redis) packages+=(redis-server) ;;
    --with-registry) packages+=(docker-registry apache2-utils) ;;
  esac
done

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
else
  npm run --silent build
fi
log "ready: $(node bin/run.js --version 2>/dev/null | head -1)"
