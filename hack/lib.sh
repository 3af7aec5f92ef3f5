# Shared by the hack/ scripts: versions, where things live, small helpers. Source it.
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HACK_DIR/.." && pwd)
source "$HACK_DIR/versions.env"
export GOTOOLCHAIN=local
CACHE_DIR=${KUBETUNE_CACHE:-$HOME/.cache/kubetune}
BIN_DIR="$CACHE_DIR/bin/k8s-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}-helm-${HELM_VERSION}"
NODE_BIN_DIR="$CACHE_DIR/bin/node-containerd-${CONTAINERD_VERSION}-runc-${RUNC_VERSION}-coredns-${COREDNS_VERSION}"
# JobSet and Kueue: their binaries, and beside them (config/NAME/) the CRDs and webhook
# manifests of the same module version.
WORKLOADS_BIN_DIR="$CACHE_DIR/bin/workloads-jobset-${JOBSET_VERSION}-kueue-${KUEUE_VERSION}"
# Kubeflow Trainer's controller, likewise (config/trainer/: CRDs, webhooks, runtimes).
TRAINER_BIN_DIR="$CACHE_DIR/bin/trainer-${TRAINER_VERSION}"
# The real node: its name, and the address it (and the API server, for pods) has on the
# host's dummy interface kubetune0. Pods reach the host there; nothing leaves the machine.
NODE_NAME=kubetune-real-0
NODE_IP=${KUBETUNE_NODE_IP:-10.250.0.1}
POD_CIDR=10.89.0.0/24
# Cluster state (certificates, etcd data, logs, pids, kubeconfig). One cluster per machine.
STATE_DIR=${KUBETUNE_CLUSTER_DIR:-/tmp/kubetune-cluster}
KUBECONFIG_PATH="$STATE_DIR/kubeconfig"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Debian packages a script needs, installed when missing (CI machines start bare). Package
# scripts may try to start system services; there is no init system for them here, and we
# start our own copies, so service start-up is refused for the install (policy-rc.d).
apt_install() {  # package...
  local sudo="" apt_log="${TMPDIR:-/tmp}/kubetune-apt.log"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing Debian's $* (log: $apt_log)"
  export DEBIAN_FRONTEND=noninteractive
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  { $sudo apt-get install -y -q --no-install-recommends "$@" >"$apt_log" 2>&1 \
    || { $sudo apt-get update -qq >>"$apt_log" 2>&1 \
         && $sudo apt-get install -y -q --no-install-recommends "$@" >>"$apt_log" 2>&1; }; } \
    || { $sudo rm -f /usr/sbin/policy-rc.d; die "apt-get install $* failed; see $apt_log"; }
  $sudo rm -f /usr/sbin/policy-rc.d
}

# ----- shared by cluster-up.sh and node-up.sh -----
ETCD_PORT=${KUBETUNE_ETCD_PORT:-23790}
APISERVER_PORT=${KUBETUNE_APISERVER_PORT:-16443}
KCM_PORT=20257
SCHEDULER_PORT=20259
KWOK_PORT=20247
SERVER="https://127.0.0.1:${APISERVER_PORT}"
# JobSet's and Kueue's webhooks (TLS, our CA) and their metrics and health endpoints.
JOBSET_WEBHOOK_PORT=20443
KUEUE_WEBHOOK_PORT=20444
TRAINER_WEBHOOK_PORT=20445

module_dir() {  # module@version: its folder in the Go module cache (downloaded if missing)
  (cd "$HACK_DIR/k8s" && go mod download -json "$1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
}

alive() {  # name: its pid file names a live process running that program (NAME or *-NAME)
  local pidfile="$STATE_DIR/pids/$1.pid" pid program
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  # A pid the kernel has since given to another program (after much churn, or a restart of the
  # machine's processes) is not ours: once, Prometheus's old pid was kube-controller-manager's,
  # so Prometheus was never started again and every test that reads it failed.
  program=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | head -n 1)
  program=${program##*/}
  [ "$program" = "$1" ] || [ "${program%-"$1"}" != "$program" ]
}
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

healthy() {  # every named component alive, and the API server ready
  for c in "$@"; do alive "$c" || return 1; done
  kubectl get --raw /readyz >/dev/null 2>&1
}

start() {  # name, command...: a detached process (its own session) with a log and a pid file
  local name=$1; shift
  if alive "$name"; then return 0; fi
  setsid "$@" >"$STATE_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE_DIR/pids/$name.pid"
}

wait_for() {  # what, timeout seconds, command...
  local what=$1 timeout=$2 deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${timeout}s waiting for $what; last log lines:"
      for f in "$STATE_DIR"/logs/*.log; do
        [ -f "$f" ] && { echo "--- $(basename "$f")"; tail -n 15 "$f"; } >&2
      done
      exit 1
    fi
    sleep 0.3
  done
}

write_kubeconfig() {  # path, user cert name
  cat > "$1" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: kubetune-local
  cluster: {server: "${SERVER}", certificate-authority: "$STATE_DIR/pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$STATE_DIR/pki/$2.crt", client-key: "$STATE_DIR/pki/$2.key"}
contexts:
- name: kubetune-local
  context: {cluster: kubetune-local, user: $2}
current-context: kubetune-local
KUBECONFIG
}


node_address() {  # a dummy interface holding NODE_IP: the real node's and the API server's
  ip -4 addr show dev kubetune0 2>/dev/null | grep -q "inet $NODE_IP/" && return 0
  # A bridge with no ports: a "dummy" device where the dummy module is not available.
  ip link add kubetune0 type dummy 2>/dev/null || ip link add kubetune0 type bridge 2>/dev/null || true
  ip link set kubetune0 up && ip addr add "$NODE_IP/32" dev kubetune0 \
    || die "cannot give $NODE_IP to a dummy interface (needs root / CAP_NET_ADMIN)"
}

# ----- docker, for images: started only when none answers, stopped only if we started it -----
DOCKERD_STARTED=""
ensure_docker() {  # call from the script's own shell (not a subshell or pipeline)
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null || apt_install docker.io
  mkdir -p "$STATE_DIR/docker"
  log "starting dockerd (log: $STATE_DIR/docker/dockerd.log)"
  dockerd --pidfile "$STATE_DIR/docker/dockerd.pid" >"$STATE_DIR/docker/dockerd.log" 2>&1 &
  DOCKERD_STARTED=$!
  trap stop_docker_if_started EXIT
  local _
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "dockerd did not answer in 30 s; see $STATE_DIR/docker/dockerd.log"
}
stop_docker_if_started() {
  [ -n "$DOCKERD_STARTED" ] || return 0
  log "stopping the dockerd this script started"
  kill "$DOCKERD_STARTED" 2>/dev/null || true
  wait "$DOCKERD_STARTED" 2>/dev/null || true
  DOCKERD_STARTED=""
}
