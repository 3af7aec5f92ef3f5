#!/usr/bin/env bash
# Add one real node to the local cluster (hack/cluster-up.sh calls this): containerd and runc
# (built from the module proxy), Debian's CNI plugins on a bridge, a kubelet, kube-proxy and
# CoreDNS, all as host processes with their state and logs in $STATE_DIR. The node is
# `kubetune-real-0`, labelled kubetune.io/node=real and tainted kubetune.io/real-node, so
# only pods that ask for it (tests, the chart's nodeSelector) land there; kwok nodes take
# the rest. `make images` (hack/images.sh) loads the kubetune images into its containerd.
# Idempotent, like cluster-up.sh. Facts behind each setting: ../shared/notes/real-node.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

NODE_DIR="$STATE_DIR/node"
SOCK="$NODE_DIR/containerd.sock"
PARTS=(containerd kubelet kube-proxy coredns)
CNI_BIN=/usr/lib/cni

ctr() { "$NODE_BIN_DIR/ctr" --address "$SOCK" -n k8s.io "$@"; }

prerequisites() {
  [ "$(id -u)" = 0 ] || die "the real node needs root (containerd, runc, iptables)"
  local missing=()
  [ -x "$CNI_BIN/bridge" ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  pkg-config --exists libseccomp 2>/dev/null || missing+=(libseccomp-dev pkg-config)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  "$HACK_DIR/build.sh" kubelet kube-proxy containerd containerd-shim-runc-v2 ctr runc coredns >/dev/null
}

write_configs() {
  mkdir -p "$NODE_DIR"/{cni,kubelet,containerd} "$STATE_DIR/logs" "$STATE_DIR/pids"
  cat > "$NODE_DIR/containerd.toml" <<TOML
version = 3
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
[grpc]
  address = "$SOCK"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$PAUSE_IMAGE"
[plugins.'io.containerd.cri.v1.runtime']
  # Root here lacks CAP_SYS_RESOURCE: nothing may lower its oom_score_adj (the kubelet asks
  # -998 for sandboxes), so only raising it is allowed.
  restrict_oom_score_adj = true
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "$NODE_BIN_DIR/runc"
  SystemdCgroup = false
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["$CNI_BIN"]
  conf_dir = "$NODE_DIR/cni"
TOML
  cat > "$NODE_DIR/cni/10-kubetune.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kubetune",
  "plugins": [
    {"type": "bridge", "bridge": "kubetune-br", "isGateway": true, "ipMasq": true,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  local pki="$STATE_DIR/pki"
  write_kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
  write_kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy
  cat > "$NODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1, which kubelet 1.35+ refuses unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzPort: 0
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
serializeImagePulls: false
# A small shared disk must not evict the tests' pods.
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
registerWithTaints:
  - {key: kubetune.io/real-node, value: "true", effect: NoSchedule}
YAML
  cat > "$NODE_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $NODE_DIR/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
metricsBindAddress: 127.0.0.1:20249
healthzBindAddress: 127.0.0.1:20256
clusterCIDR: $POD_CIDR
iptables: {masqueradeAll: true}
conntrack: {maxPerCore: 0}
YAML
  cat > "$NODE_DIR/Corefile" <<COREFILE
.:53 {
    bind $NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_PATH kubetune-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
}
COREFILE
}

pause_image() {  # the sandbox image, built locally once (no registry is reachable)
  ctr images ls -q | grep -qx "$PAUSE_IMAGE" && return 0
  local tar="$CACHE_DIR/images/pause-${PAUSE_IMAGE##*:}.tar" dir
  if [ ! -f "$tar" ]; then
    ensure_docker
    dir=$(mktemp -d)
    CGO_ENABLED=0 go build -C "$HACK_DIR/node/pause" -trimpath -ldflags "-s -w" -o "$dir/pause" .
    cp "$HACK_DIR/node/pause/Dockerfile" "$dir/"
    docker build -q -t "$PAUSE_IMAGE" "$dir" >/dev/null
    mkdir -p "$(dirname "$tar")"
    docker save "$PAUSE_IMAGE" -o "$tar.part" && mv "$tar.part" "$tar"
    rm -rf "$dir"
  fi
  ctr images import "$tar" >/dev/null
}

main() {
  if healthy "${PARTS[@]}" && kubectl get node "$NODE_NAME" >/dev/null 2>&1; then
    log "the real node is already up"
  else
    prerequisites
    write_configs
    node_address
    export PATH="$NODE_BIN_DIR:$PATH"  # containerd finds its shim on PATH
    start containerd "$NODE_BIN_DIR/containerd" --config "$NODE_DIR/containerd.toml"
    wait_for containerd 30 ctr version
    start coredns "$NODE_BIN_DIR/coredns" -conf "$NODE_DIR/Corefile"
    start kube-proxy "$BIN_DIR/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml"
    start kubelet "$BIN_DIR/kubelet" --config "$NODE_DIR/kubelet.yaml" \
      --kubeconfig "$NODE_DIR/kubelet.kubeconfig" --root-dir "$NODE_DIR/kubelet" \
      --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
      --node-labels "kubetune.io/node=real"
    wait_for "node $NODE_NAME Ready" 90 bash -c \
      "'$BIN_DIR/kubectl' --kubeconfig '$KUBECONFIG_PATH' get node $NODE_NAME --no-headers | grep -q ' Ready '"
  fi
  pause_image
  log "real node $NODE_NAME is Ready (containerd $CONTAINERD_VERSION, runc $RUNC_VERSION)"
}

main "$@"
