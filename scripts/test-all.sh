#!/usr/bin/env bash
# The README's test command: sets up everything the tests need on a fresh
# Debian 12 machine with Node 20, then runs every test (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-bench --with-docker --with-redis --with-registry
export MLSERVE_TEST_BASE_IMAGE="$(bash scripts/docker-env.sh)"
npm run --silent typecheck
node scripts/run-tests.js "$@"
