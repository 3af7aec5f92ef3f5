#!/usr/bin/env bash
# JobSet, Kueue and Kubeflow Trainer on the local cluster: built from the Go module proxy (hack/build.sh, at the
# versions in versions.env), run as host processes with the admin kubeconfig, their CRDs
# applied from the same module versions, and their webhooks (and Kueue's CRD conversion)
# served on 127.0.0.1 with a certificate from the cluster's CA. Called by cluster-up.sh;
# KUBETUNE_WORKLOADS=0 leaves them out, KUBETUNE_TRAINER=0 the Trainer alone. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

JOBSET_HEALTH_PORT=20451
KUEUE_HEALTH_PORT=20449
TRAINER_HEALTH_PORT=20453
TRAINER=${KUBETUNE_TRAINER:-1}
# Kueue manages only what these kinds are; a webhook for any other kind is left out.
KUEUE_FRAMEWORKS="batch/job jobset.x-k8s.io/jobset"
KUEUE_WEBHOOKS='kueue-x-k8s-io|/(mutate|validate)-batch-v1-job$|jobset-x-k8s-io'
if [ "$TRAINER" != 0 ]; then
  KUEUE_FRAMEWORKS+=" trainer.kubeflow.org/trainjob"
  KUEUE_WEBHOOKS+='|trainer-kubeflow-org-v1alpha1-trainjob'
fi
# Kueue's CRDs with several served versions, converted by Kueue itself.
KUEUE_CONVERTED=localqueues.kueue.x-k8s.io,clusterqueues.kueue.x-k8s.io,cohorts.kueue.x-k8s.io,workloads.kueue.x-k8s.io,multikueueclusters.kueue.x-k8s.io

as_list() { kubectl create --dry-run=client -o json -f "$1"; }  # YAML manifests -> JSON

serving_cert() {  # the webhooks' certificate: 127.0.0.1, signed by the cluster's CA
  local certs="$STATE_DIR/workloads/certs" pki="$STATE_DIR/pki"
  [ -f "$certs/tls.crt" ] && return 0
  mkdir -p "$certs"
  openssl req -newkey rsa:2048 -nodes -keyout "$certs/tls.key" -out "$certs/tls.csr" \
    -subj "/CN=kubetune-webhooks" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' \
    > "$certs/tls.ext"
  openssl x509 -req -in "$certs/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -out "$certs/tls.crt" -days 3650 -extfile "$certs/tls.ext" 2>/dev/null
  rm -f "$certs/tls.csr" "$certs/tls.ext"
}

write_configs() {
  local dir="$STATE_DIR/workloads"
  cat > "$dir/jobset.yaml" <<CONFIG
apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
internalCertManagement: {enable: false}
webhook: {host: 127.0.0.1, port: ${JOBSET_WEBHOOK_PORT}, certDir: ${dir}/certs}
metrics: {bindAddress: "127.0.0.1:20450"}
health: {healthProbeBindAddress: "127.0.0.1:${JOBSET_HEALTH_PORT}"}
CONFIG
  cat > "$dir/kueue.yaml" <<CONFIG
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: kueue-system
manageJobsWithoutQueueName: false
leaderElection: {leaderElect: false}
internalCertManagement: {enable: false}
webhook: {host: 127.0.0.1, port: ${KUEUE_WEBHOOK_PORT}, certDir: ${dir}/certs}
metrics: {bindAddress: "127.0.0.1:20448"}
health: {healthProbeBindAddress: "127.0.0.1:${KUEUE_HEALTH_PORT}"}
integrations:
  frameworks: [$(echo "$KUEUE_FRAMEWORKS" | sed 's/ /, /g')]
CONFIG
  # The Trainer has no certDir setting: controller-runtime's default, under $TMPDIR, is
  # pointed at ours (trainer_tmp). Its metrics are plain HTTP on 127.0.0.1.
  cat > "$dir/trainer.yaml" <<CONFIG
apiVersion: config.trainer.kubeflow.org/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
certManagement: {enable: false}
webhook: {host: 127.0.0.1, port: ${TRAINER_WEBHOOK_PORT}}
metrics: {bindAddress: "127.0.0.1:20452", secureServing: false}
health: {healthProbeBindAddress: "127.0.0.1:${TRAINER_HEALTH_PORT}"}
CONFIG
}

trainer_tmp() {  # the Trainer's $TMPDIR, where controller-runtime looks for serving certs
  local tmp="$STATE_DIR/workloads/trainer-tmp"
  mkdir -p "$tmp/k8s-webhook-server"
  ln -sfn "$STATE_DIR/workloads/certs" "$tmp/k8s-webhook-server/serving-certs"
  echo "$tmp"
}

main() {
  local config="$WORKLOADS_BIN_DIR/config" ca="$STATE_DIR/pki/ca.crt" f kinds=(jobset kueue)
  [ "$TRAINER" = 0 ] || kinds+=(trainer)
  "$HACK_DIR/build.sh" jobset kueue $([ "$TRAINER" = 0 ] || echo trainer) >/dev/null
  mkdir -p "$STATE_DIR/workloads"
  serving_cert
  write_configs
  # CRDs first (server-side: Kueue's are too large for the last-applied annotation).
  as_list "$config/jobset/crds" | python3 "$HACK_DIR/workloads/render.py" crds 0 "$ca" "" \
    > "$STATE_DIR/workloads/jobset-crds.json"
  as_list "$config/kueue/crds" \
    | python3 "$HACK_DIR/workloads/render.py" crds "$KUEUE_WEBHOOK_PORT" "$ca" "$KUEUE_CONVERTED" \
    > "$STATE_DIR/workloads/kueue-crds.json"
  if [ "$TRAINER" != 0 ]; then
    # Before Kueue starts: it manages TrainJobs only when their kind is served at its start.
    as_list "$TRAINER_BIN_DIR/config/crds" > "$STATE_DIR/workloads/trainer-crds.json"
  fi
  for f in "${kinds[@]}"; do
    kubectl apply --server-side --force-conflicts -f "$STATE_DIR/workloads/$f-crds.json" >/dev/null
  done
  # The controllers exit at start when a kind of theirs is not served yet.
  for f in "${kinds[@]}"; do
    kubectl wait --for condition=Established --timeout=60s \
      -f "$STATE_DIR/workloads/$f-crds.json" >/dev/null
  done
  kubectl get namespace kueue-system >/dev/null 2>&1 || kubectl create namespace kueue-system >/dev/null

  # Kueue reads its metrics server's certificate from a fixed path when it does not make its
  # own (it cannot: those would name a Service, not 127.0.0.1): point that path at ours.
  if [ "$(readlink /etc/kueue/metrics/certs 2>/dev/null)" != "$STATE_DIR/workloads/certs" ]; then
    mkdir -p /etc/kueue/metrics && rm -rf /etc/kueue/metrics/certs
    ln -s "$STATE_DIR/workloads/certs" /etc/kueue/metrics/certs
  fi
  start jobset env KUBECONFIG="$KUBECONFIG_PATH" "$WORKLOADS_BIN_DIR/jobset" \
    --config "$STATE_DIR/workloads/jobset.yaml"
  start kueue env KUBECONFIG="$KUBECONFIG_PATH" "$WORKLOADS_BIN_DIR/kueue" \
    --config "$STATE_DIR/workloads/kueue.yaml" --feature-gates VisibilityOnDemand=false
  if [ "$TRAINER" != 0 ]; then
    start trainer env KUBECONFIG="$KUBECONFIG_PATH" TMPDIR="$(trainer_tmp)" \
      "$TRAINER_BIN_DIR/trainer" --config "$STATE_DIR/workloads/trainer.yaml"
  fi
  wait_for "JobSet's controller" 60 curl -sf "http://127.0.0.1:${JOBSET_HEALTH_PORT}/readyz"
  wait_for "Kueue's controller" 90 curl -sf "http://127.0.0.1:${KUEUE_HEALTH_PORT}/readyz"

  as_list "$config/jobset/webhooks.yaml" \
    | python3 "$HACK_DIR/workloads/render.py" webhooks jobset "$JOBSET_WEBHOOK_PORT" "$ca" '.' \
    | kubectl apply -f - >/dev/null
  as_list "$config/kueue/webhooks.yaml" \
    | python3 "$HACK_DIR/workloads/render.py" webhooks kueue "$KUEUE_WEBHOOK_PORT" "$ca" "$KUEUE_WEBHOOKS" \
    | kubectl apply -f - >/dev/null
  if [ "$TRAINER" != 0 ]; then
    wait_for "Kubeflow Trainer's controller" 60 curl -sf "http://127.0.0.1:${TRAINER_HEALTH_PORT}/readyz"
    as_list "$TRAINER_BIN_DIR/config/webhooks.yaml" \
      | python3 "$HACK_DIR/workloads/render.py" webhooks trainer "$TRAINER_WEBHOOK_PORT" "$ca" '.' \
      | kubectl apply -f - >/dev/null
    log "Kubeflow Trainer ${TRAINER_VERSION} is up (log: $STATE_DIR/logs/trainer.log)"
  fi
  log "JobSet ${JOBSET_VERSION} and Kueue ${KUEUE_VERSION} are up (logs: $STATE_DIR/logs/{jobset,kueue}.log)"
}

main "$@"
