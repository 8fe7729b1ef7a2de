#!/usr/bin/env bash
# Makes a Docker engine and mlserve's local base image available, for the
# Docker tests and benchmarks on a machine that cannot pull from Docker Hub:
# - installs Debian's docker.io when there is no engine, and starts dockerd
#   in the background when none answers (there may be no systemd);
# - builds the base image from Debian packages (debootstrap minbase with
#   python3, then `docker import`) when it is absent, and reuses it by tag.
# Prints the base image's tag on stdout.
set -euo pipefail

BASE_IMAGE="${MLSERVE_TEST_BASE_IMAGE:-mlserve-base:bookworm}"
MIRROR="${MLSERVE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { printf '\033[1m[docker-env]\033[0m %s\n' "$*" >&2; }
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! $sudo docker info >/dev/null 2>&1; then
  log "starting dockerd"
  $sudo sh -c 'nohup dockerd >/var/log/mlserve-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do
    [ -S /var/run/docker.sock ] && $sudo docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  $sudo docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/mlserve-dockerd.log"; tail -20 /var/log/mlserve-dockerd.log >&2 || true; exit 1; }
fi

if ! $sudo docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  root="$(mktemp -d "${TMPDIR:-/tmp}/mlserve-rootfs-XXXXXX")"
  log "building $BASE_IMAGE from Debian packages in $root (about a minute)"
  $sudo debootstrap --variant=minbase --include=python3 bookworm "$root" "$MIRROR" >/dev/null
  $sudo rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*
  $sudo tar -C "$root" -c . | $sudo docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  $sudo rm -rf "$root"
fi
echo "$BASE_IMAGE"
