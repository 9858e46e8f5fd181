#!/usr/bin/env bash
# Give the data folders to the app user, then run the app as that user (never as root).
# The folders are the ones Isengard picks itself: DATA_DIR/LOG_DIR, else the RunPod volume.
set -euo pipefail
if [ "$(id -u)" = "0" ]; then
  dirs=()
  if [ -n "${DATA_DIR:-}" ]; then dirs+=("$DATA_DIR"); fi
  if [ -n "${LOG_DIR:-}" ]; then dirs+=("$LOG_DIR"); fi
  if [ -z "${DATA_DIR:-}" ]; then
    for volume in /runpod-volume /workspace; do
      if [ -d "$volume" ]; then dirs+=("$volume/isengard" "$volume/isengard-logs"); break; fi
    done
  fi
  for dir in "${dirs[@]}" /app/tmp; do
    mkdir -p "$dir" && chown isengard:isengard "$dir" || echo "warning: cannot prepare $dir" >&2
  done
  exec setpriv --reuid=isengard --regid=isengard --init-groups "$@"
fi
exec "$@"
