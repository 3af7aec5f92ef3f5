#!/usr/bin/env bash
# Certificates for the local cluster: one CA, the API server's serving cert, client certs for
# the admin (system:masters), the controller manager, the scheduler and kwok, and the service
# account signing key. Written once into $STATE_DIR/pki; reused while it exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pki="$STATE_DIR/pki"
[ -f "$pki/.done" ] && exit 0
mkdir -p "$pki" && cd "$pki"
days=3650
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days $days \
  -subj "/CN=kubetune-local-ca" 2>/dev/null

sign() {  # name, subject, extensions
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
    -days $days -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
serving="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:${NODE_IP},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
client="basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
sign apiserver "/CN=kube-apiserver" "$serving"
sign admin "/O=system:masters/CN=kubetune-admin" "$client"
sign controller-manager "/CN=system:kube-controller-manager" "$client"
sign scheduler "/CN=system:kube-scheduler" "$client"
sign kwok "/O=system:masters/CN=kwok-controller" "$client"
# The real node (hack/node-up.sh): the kubelet's client identity (the Node authorizer's
# system:node:NAME), its serving cert (the API server checks it for logs), kube-proxy's.
sign kubelet "/O=system:nodes/CN=system:node:${NODE_NAME}" "$client"
sign kubelet-serving "/CN=${NODE_NAME}" "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:${NODE_IP},IP:127.0.0.1,DNS:${NODE_NAME}"
sign kube-proxy "/CN=system:kube-proxy" "$client"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
touch .done
