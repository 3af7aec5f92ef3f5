#!/usr/bin/env bash
# Start the local cluster: etcd, kube-apiserver (TLS, RBAC), kube-controller-manager,
# kube-scheduler and kwok with two CPU and two GPU fake nodes, all on this machine, then JobSet
# and Kueue (hack/workloads-up.sh; KUBETUNE_WORKLOADS=0 leaves them out), then one real node
# (hack/node-up.sh; KUBETUNE_REAL_NODE=0 leaves it out).
# Idempotent: when the cluster is already up and healthy it only says so.
# State (certs, etcd data, logs, pids, kubeconfig) lives in $STATE_DIR (/tmp/kubetune-cluster).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

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
  if healthy "${COMPONENTS[@]}"; then
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

    node_address
    # Pods on the real node reach the API server at the node's address (through the
    # `kubernetes` Service and kube-proxy); kubectl and the tests use 127.0.0.1.
    start kube-apiserver "$BIN_DIR/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
      --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" \
      --advertise-address "$NODE_IP" --endpoint-reconciler-type lease \
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
  if [ "${KUBETUNE_WORKLOADS:-1}" != 0 ]; then "$HACK_DIR/workloads-up.sh"; fi
  if [ "${KUBETUNE_REAL_NODE:-1}" != 0 ]; then "$HACK_DIR/node-up.sh"; fi
  cat <<USAGE
kubetune local cluster is up (Kubernetes ${KUBERNETES_VERSION}, kwok ${KWOK_VERSION}).
  export KUBECONFIG=${KUBECONFIG_PATH}
  export PATH=${BIN_DIR}:\$PATH
  kubectl get nodes
Logs: ${STATE_DIR}/logs/   Stop: make cluster-down
USAGE
}

main "$@"
