#!/usr/bin/env bash
# Build the local cluster's binaries from the Go module proxy, once per version set.
#   hack/build.sh [component ...]   (default: everything the cluster and tests need)
# Binaries land in ~/.cache/kubetune/bin/<versions>/; a binary already there is not rebuilt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
# The real node's runtime lives in its own folder, keyed by its own versions.
NODE_COMPONENTS=(containerd containerd-shim-runc-v2 ctr runc coredns)
# Trial workloads and their admission: in their own folder, keyed by their own versions.
WORKLOAD_COMPONENTS=(jobset kueue)
# Kubeflow Trainer: its own folder too, so that adding it left the two above cached.
TRAINER_COMPONENTS=(trainer)
ALL=(etcd "${K8S_COMPONENTS[@]}" kwok helm "${NODE_COMPONENTS[@]}" "${WORKLOAD_COMPONENTS[@]}" "${TRAINER_COMPONENTS[@]}")
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${ALL[@]}")
mkdir -p "$BIN_DIR"

k8s_ldflags() {
  local major minor pkg flags="-s -w"
  major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  # Both packages carry the version: without them the server reports v0.0.0-master and helm
  # refuses charts that declare a kubeVersion.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=${KUBERNETES_VERSION} -X $pkg.gitMajor=${major}"
    flags+=" -X $pkg.gitMinor=${minor} -X $pkg.gitTreeState=clean"
    flags+=" -X $pkg.gitCommit=module-proxy-${KUBERNETES_VERSION} -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_one() {
  local name=$1 out="$BIN_DIR/$1" started
  case " ${NODE_COMPONENTS[*]} " in *" $name "*) out="$NODE_BIN_DIR/$name"; mkdir -p "$NODE_BIN_DIR" ;; esac
  case " ${WORKLOAD_COMPONENTS[*]} " in *" $name "*) out="$WORKLOADS_BIN_DIR/$name"; mkdir -p "$WORKLOADS_BIN_DIR" ;; esac
  case " ${TRAINER_COMPONENTS[*]} " in *" $name "*) out="$TRAINER_BIN_DIR/$name"; mkdir -p "$TRAINER_BIN_DIR" ;; esac
  if [ -x "$out" ]; then return 0; fi
  started=$(date +%s)
  log "building $name (first run on this machine; cached afterwards in $(dirname "$out"))"
  case "$name" in
    etcd)
      (cd "$HACK_DIR/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" ./cmd/etcd) ;;
    kwok)
      GOBIN="$BIN_DIR/.gobin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
      mv "$BIN_DIR/.gobin/kwok" "$out.tmp" ;;
    helm)
      GOBIN="$BIN_DIR/.gobin" CGO_ENABLED=0 go install -trimpath \
        -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION}" \
        "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
      mv "$BIN_DIR/.gobin/helm" "$out.tmp" ;;
    containerd|containerd-shim-runc-v2|ctr)
      # No btrfs/devmapper/zfs snapshotters: they need C headers and are never used here.
      GOBIN="$NODE_BIN_DIR/.gobin" CGO_ENABLED=0 go install -trimpath \
        -tags "no_btrfs no_devmapper no_zfs" \
        -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=${CONTAINERD_VERSION}" \
        "github.com/containerd/containerd/v2/cmd/$name@${CONTAINERD_VERSION}"
      mv "$NODE_BIN_DIR/.gobin/$name" "$out.tmp" ;;
    runc)
      # seccomp needs cgo and Debian's libseccomp-dev (apt-get install libseccomp-dev pkg-config).
      if ! pkg-config --exists libseccomp 2>/dev/null; then
        apt_install libseccomp-dev pkg-config
      fi
      GOBIN="$NODE_BIN_DIR/.gobin" CGO_ENABLED=1 go install -trimpath -tags seccomp \
        -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" \
        "github.com/opencontainers/runc@${RUNC_VERSION}"
      mv "$NODE_BIN_DIR/.gobin/runc" "$out.tmp" ;;
    coredns)
      GOBIN="$NODE_BIN_DIR/.gobin" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
        "github.com/coredns/coredns@${COREDNS_VERSION}"
      mv "$NODE_BIN_DIR/.gobin/coredns" "$out.tmp" ;;
    jobset|kueue)
      # From the module's own folder, so its own go.mod and go.sum pick every dependency
      # (`go install jobset@version` is refused: the proxy will not list JobSet's versions).
      # Its CRDs and webhook manifests are kept beside the binary, from the same version.
      local module version dir pkg
      if [ "$name" = jobset ]; then module=sigs.k8s.io/jobset version=$JOBSET_VERSION pkg=.
      else module=sigs.k8s.io/kueue version=$KUEUE_VERSION pkg=./cmd/kueue; fi
      dir=$(module_dir "$module@$version")
      (cd "$dir" && CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X $module/pkg/version.GitVersion=$version" -o "$out.tmp" "$pkg")
      rm -rf "$WORKLOADS_BIN_DIR/config/$name" && mkdir -p "$WORKLOADS_BIN_DIR/config/$name/crds"
      cp "$dir"/config/components/crd/bases/*.yaml "$WORKLOADS_BIN_DIR/config/$name/crds/"
      cp "$dir/config/components/webhook/manifests.yaml" "$WORKLOADS_BIN_DIR/config/$name/webhooks.yaml" ;;
    trainer)
      # Kubeflow Trainer's controller manager, from its module's folder (its go.mod pins JobSet
      # v0.11.1 and Kubernetes 0.35, as Kueue's does, so most of the build cache is shared).
      local dir
      dir=$(module_dir "github.com/kubeflow/trainer/v2@$TRAINER_VERSION")
      (cd "$dir" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" \
        ./cmd/trainer-controller-manager)
      rm -rf "$TRAINER_BIN_DIR/config" && mkdir -p "$TRAINER_BIN_DIR/config/crds"
      cp "$dir"/manifests/base/crds/trainer.kubeflow.org_*.yaml "$TRAINER_BIN_DIR/config/crds/"
      cp "$dir/manifests/base/webhook/manifests.yaml" "$TRAINER_BIN_DIR/config/webhooks.yaml" ;;
    kube-*|kubectl|kubelet)
      (cd "$HACK_DIR/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "$(k8s_ldflags)" -o "$out.tmp" "k8s.io/kubernetes/cmd/$name") ;;
    *) die "unknown component $name" ;;
  esac
  mv "$out.tmp" "$out"
  log "built $name in $(( $(date +%s) - started ))s"
}

for component in "${wanted[@]}"; do build_one "$component"; done
echo "$BIN_DIR"
