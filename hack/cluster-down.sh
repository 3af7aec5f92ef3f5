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
    alive "$name" || continue  # a pid reused by another program is not ours to stop
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

stop_real_node() {  # pods' processes, then the node's daemons, mounts, iptables and links
  local node="$STATE_DIR/node" sock="$STATE_DIR/node/containerd.sock" shim mnt
  [ -d "$node" ] || return 0
  stop kubelet
  if [ -S "$sock" ]; then  # every pod's containers, through containerd, then their shims
    for task in $("$NODE_BIN_DIR/ctr" --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      "$NODE_BIN_DIR/ctr" --address "$sock" -n k8s.io tasks kill -s KILL "$task" >/dev/null 2>&1 || true
    done
  fi
  for shim in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io -address $sock" || true); do
    kill -KILL "$shim" 2>/dev/null || true
  done
  stop coredns kube-proxy containerd
  # kube-proxy's and the kubelet's iptables chains (KUBE-*), and nothing else of the host's.
  if command -v iptables-save >/dev/null; then
    iptables-save | grep -v -e '^:KUBE-' -e '^-A KUBE-' -e ' -j KUBE-' | iptables-restore || true
  fi
  # Mounts under the node's folders (pod volumes, container root filesystems), deepest first.
  for mnt in $(awk -v d="$node" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mnt" 2>/dev/null || true
  done
  ip link del kubetune-br 2>/dev/null || true
}

stop trainer kueue jobset kwok kube-scheduler kube-controller-manager prometheus pushgateway
stop_real_node
stop kube-apiserver
stop etcd
ip link del kubetune0 2>/dev/null || true
# Kueue's fixed metrics-certificate path, where hack/workloads-up.sh linked it to ours.
if [ "$(readlink /etc/kueue/metrics/certs 2>/dev/null)" = "$STATE_DIR/workloads/certs" ]; then
  rm -f /etc/kueue/metrics/certs && rmdir /etc/kueue/metrics /etc/kueue 2>/dev/null || true
fi
rm -rf "$STATE_DIR"
log "removed $STATE_DIR"
