#!/usr/bin/env bash
# Start the local cluster: etcd, kube-apiserver (TLS, RBAC), kube-controller-manager,
# kube-scheduler and kwok with two CPU and two GPU fake nodes, all on 127.0.0.1.
# Idempotent: when the cluster is already up and healthy it only says so.
# State (certs, etcd data, logs, pids, kubeconfig) lives in $STATE_DIR (/tmp/kubetune-cluster).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ETCD_PORT=${KUBETUNE_ETCD_PORT:-23790}
APISERVER_PORT=${KUBETUNE_APISERVER_PORT:-16443}
KCM_PORT=20257
SCHEDULER_PORT=20259
KWOK_PORT=20247
SERVER="https://127.0.0.1:${APISERVER_PORT}"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

alive() { [ -f "$STATE_DIR/pids/$1.pid" ] && kill -0 "$(cat "$STATE_DIR/pids/$1.pid")" 2>/dev/null; }
kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

healthy() {
  for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
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
      for c in "${COMPONENTS[@]}"; do
        [ -f "$STATE_DIR/logs/$c.log" ] && { echo "--- $c"; tail -n 15 "$STATE_DIR/logs/$c.log"; } >&2
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

kwok_stages() {  # kwok's own node and pod-ready/pod-delete stages, plus ours (hack/kwok)
  local dir
  dir=$(cd "$HACK_DIR/k8s" && go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
    cat "$dir/kustomize/stage/$f"; echo "---"
  done
  cat "$HACK_DIR/kwok/stages.yaml"
}

main() {
  if healthy; then
    log "the cluster is already up"
  else
    "$HACK_DIR/build.sh" >/dev/null
    mkdir -p "$STATE_DIR/logs" "$STATE_DIR/pids" "$STATE_DIR/etcd"
    "$HACK_DIR/pki.sh"
    local pki="$STATE_DIR/pki"
    for user in admin controller-manager scheduler kwok; do
      write_kubeconfig "$STATE_DIR/$user.kubeconfig" "$user"
    done
    cp "$STATE_DIR/admin.kubeconfig" "$KUBECONFIG_PATH"
    kwok_stages > "$STATE_DIR/kwok-stages.yaml"

    start etcd "$BIN_DIR/etcd" --name kubetune --data-dir "$STATE_DIR/etcd" \
      --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
      --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
      --initial-cluster "kubetune=http://127.0.0.1:$((ETCD_PORT + 10))" \
      --quota-backend-bytes 4294967296 --unsafe-no-fsync
    wait_for etcd 30 curl -sf "http://127.0.0.1:${ETCD_PORT}/health"

    start kube-apiserver "$BIN_DIR/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
      --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
      --advertise-address 127.0.0.1 --endpoint-reconciler-type none \
      --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
      --client-ca-file "$pki/ca.crt" \
      --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
      --service-account-issuer https://kubernetes.default.svc.cluster.local \
      --authorization-mode Node,RBAC --allow-privileged=true \
      --service-cluster-ip-range 10.96.0.0/16 \
      --kubelet-preferred-address-types InternalIP \
      --kubelet-client-certificate "$pki/admin.crt" --kubelet-client-key "$pki/admin.key"
    wait_for kube-apiserver 60 kubectl get --raw /readyz

    start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
      --kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
      --authentication-kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
      --authorization-kubeconfig "$STATE_DIR/controller-manager.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --leader-elect=false \
      --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
      --use-service-account-credentials=true --cluster-signing-cert-file "$pki/ca.crt" \
      --cluster-signing-key-file "$pki/ca.key"
    start kube-scheduler "$BIN_DIR/kube-scheduler" \
      --kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
      --authentication-kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
      --authorization-kubeconfig "$STATE_DIR/scheduler.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" --leader-elect=false
    start kwok "$BIN_DIR/kwok" --kubeconfig "$STATE_DIR/kwok.kubeconfig" \
      --config "$STATE_DIR/kwok-stages.yaml" \
      --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
      --node-lease-duration-seconds 40 --server-address "127.0.0.1:${KWOK_PORT}" \
      --cidr 10.244.0.0/16 --node-ip 127.0.0.1

    wait_for "the default service account controller" 60 kubectl get serviceaccount default -n default
  fi
  kubectl apply -f "$HACK_DIR/kwok/nodes.yaml" >/dev/null  # idempotent: restores a deleted node
  wait_for "4 Ready nodes" 60 bash -c \
    "[ \"\$('$BIN_DIR/kubectl' --kubeconfig '$KUBECONFIG_PATH' get nodes --no-headers 2>/dev/null | grep -c ' Ready ')\" -ge 4 ]"
  cat <<USAGE
kubetune local cluster is up (Kubernetes ${KUBERNETES_VERSION}, kwok ${KWOK_VERSION}).
  export KUBECONFIG=${KUBECONFIG_PATH}
  export PATH=${BIN_DIR}:\$PATH
  kubectl get nodes
Logs: ${STATE_DIR}/logs/   Stop: make cluster-down
USAGE
}

main "$@"
