# Shared by the hack/ scripts: versions, where things live, small helpers. Source it.
HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HACK_DIR/.." && pwd)
source "$HACK_DIR/versions.env"
export GOTOOLCHAIN=local
CACHE_DIR=${KUBETUNE_CACHE:-$HOME/.cache/kubetune}
BIN_DIR="$CACHE_DIR/bin/k8s-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}-helm-${HELM_VERSION}"
# Cluster state (certificates, etcd data, logs, pids, kubeconfig). One cluster per machine.
STATE_DIR=${KUBETUNE_CLUSTER_DIR:-/tmp/kubetune-cluster}
KUBECONFIG_PATH="$STATE_DIR/kubeconfig"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
