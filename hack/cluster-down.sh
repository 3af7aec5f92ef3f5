#!/usr/bin/env bash
# Stop what hack/cluster-up.sh and hack/prometheus-up.sh started, by pid, and remove the state.
# Clients go first, then the API server, then etcd: an API server whose etcd is already gone
# hangs in its graceful shutdown.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ -d "$STATE_DIR/pids" ] || { log "no cluster state in $STATE_DIR"; exit 0; }

stop() {  # component names, stopped together
  local pids=() name pid
  for name in "$@"; do
    [ -f "$STATE_DIR/pids/$name.pid" ] || continue
    pid=$(cat "$STATE_DIR/pids/$name.pid")
    if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); log "stopping $name ($pid)"; fi
  done
  for _ in $(seq 100); do
    local running=0
    for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then running=1; fi; done
    [ "$running" -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -KILL "$pid" 2>/dev/null; then log "killed $pid: still running 10 s after SIGTERM"; fi
  done
}

stop kwok kube-scheduler kube-controller-manager prometheus pushgateway
stop kube-apiserver
stop etcd
rm -rf "$STATE_DIR"
log "removed $STATE_DIR"
