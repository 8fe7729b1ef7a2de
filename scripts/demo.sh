#!/usr/bin/env bash
# The README's main job, on the embedded default (local processes, no Docker):
# scaffold a template, serve it, make a prediction through the gateway,
# load-test the running endpoint, then tune one replica and write a report.
# Usage: scripts/demo.sh [TEMPLATE] (default: python)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

template="${1:-python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/mlserve-demo-XXXXXX")"
project="$work/demo"
mlserve() { node "$PWD/bin/run.js" "$@"; }

step() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }

step "mlserve init $project --template $template"
mlserve init "$project" --template "$template"

step "mlserve validate $project"
mlserve validate "$project"

port="${MLSERVE_DEMO_PORT:-0}"
step "mlserve run $project --port $port &"
# node itself is the background job, so $! is its pid and the stop signal
# reaches it (a background job of a script ignores SIGINT; SIGTERM drains the
# same way Ctrl-C does).
node "$PWD/bin/run.js" run "$project" --port "$port" > "$work/run.json" 2> "$work/run.log" &
run_pid=$!
tail -n +1 -f "$work/run.log" --pid "$run_pid" >&2 &
cleanup() {
  if kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

for _ in $(seq 1 600); do
  grep -q '^Ready: ' "$work/run.log" 2>/dev/null && break
  kill -0 "$run_pid" 2>/dev/null || { echo "mlserve run exited early; see above." >&2; exit 1; }
  sleep 0.2
done
url="$(sed -n 's/^Ready: //p' "$work/run.log" | head -1)"
[ -n "$url" ] || { echo "mlserve run did not become ready." >&2; exit 1; }

payload="$(ls "$project"/payloads/*.json | head -1)"
step "mlserve predict --url $url --data @$payload"
mlserve predict --url "$url" --data "@$payload"

step "mlserve status --url $url"
mlserve status --url "$url"

endpoint="$url/demo"
step "mlserve loadtest $endpoint --data @$project/payloads --rate 200 --duration 5 --max-p99 250 --out $work/loadtest.html"
mlserve loadtest "$endpoint" --data "@$project/payloads" --rate 200 --duration 5 --max-p99 250 --out "$work/loadtest.html"

step "stopping mlserve run (SIGTERM: drains, then stops every process)"
cleanup
trap - EXIT

# --no-pin: the template answers in well under a millisecond, and on a 2-CPU machine one CPU cannot carry the
# load generator and the gateway at the rates it reaches (tune would say so and recommend nothing). Short windows
# and a 15 s verification keep the demo brisk; a real tune keeps the defaults (docs/tune.md).
step "mlserve tune $project --slo-p99 100 --peak-rps 1000 --processes 1,2 --threads 1,4 --no-pin --window 2s --window-requests 400 --verify-duration 15s --out $work/tune.html"
mlserve tune "$project" --slo-p99 100 --peak-rps 1000 --processes 1,2 --threads 1,4 --no-pin --window 2s --window-requests 400 --verify-duration 15s --out "$work/tune.html"

printf '\nDone. The project is in %s; reports: %s/loadtest.html, %s/tune.html\n' "$project" "$work" "$work" >&2
