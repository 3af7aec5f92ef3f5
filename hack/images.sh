#!/usr/bin/env bash
# Build the kubetune image (operator and sidecar) from the repo's Dockerfile with Debian's
# docker.io, on a base image made with debootstrap (no registry is needed anywhere).
#   hack/images.sh   builds kubetune/kubetune:<version> (operator, sidecar) and
#                    kubetune/trainer:<version> (the examples' trainers), and loads them
#                    into the real node's containerd when it runs
# The base is cached in ~/.cache/kubetune/images/ by suite and revision. dockerd is started
# only when none answers, and stopped at the end only if this script started it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGE_DIR="$CACHE_DIR/images"
BASE_TAG="kubetune-base:${DEBIAN_SUITE}-r${BASE_IMAGE_REVISION}"
BASE_TAR="$IMAGE_DIR/base-${DEBIAN_SUITE}-r${BASE_IMAGE_REVISION}.tar"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO_DIR/pyproject.toml")

base_image() {
  if docker image inspect "$BASE_TAG" >/dev/null 2>&1; then return; fi
  if [ ! -f "$BASE_TAR" ]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    local mirror root
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
    root=$(mktemp -d)
    log "debootstrap $DEBIAN_SUITE from $mirror (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$DEBIAN_SUITE" "$root" "$mirror" >"$IMAGE_DIR.debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $IMAGE_DIR.debootstrap.log"
    # This machine's trust store, so that pip inside builds trusts what the host trusts.
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$IMAGE_DIR"
    tar -C "$root" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
    rm -rf "$root"
  fi
  log "importing $BASE_TAG"
  docker import "$BASE_TAR" "$BASE_TAG" >/dev/null
}

mkdir -p "$IMAGE_DIR"
ensure_docker
base_image
build() {  # build IMAGE DOCKERFILE
  log "building $1:$VERSION"
  docker build -q --build-arg BASE="$BASE_TAG" --build-arg VERSION="$VERSION" \
    ${PIP_INDEX_URL:+--build-arg PIP_INDEX_URL="$PIP_INDEX_URL"} \
    -f "$2" -t "$1:$VERSION" "$REPO_DIR" >/dev/null
  docker image ls "$1:$VERSION" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
}
build kubetune/kubetune "$REPO_DIR/Dockerfile"
build kubetune/trainer "$REPO_DIR/examples/Dockerfile"

# Into the real node's containerd, when it runs (hack/node-up.sh), if the image changed.
if [ -S "$STATE_DIR/node/containerd.sock" ]; then
  for image in kubetune/kubetune kubetune/trainer; do
    id=$(docker image inspect -f '{{.Id}}' "$image:$VERSION")
    marker="$STATE_DIR/node/loaded-${image//\//_}"
    [ "$(cat "$marker" 2>/dev/null)" = "$id" ] && continue
    log "loading $image:$VERSION into the real node"
    docker save "$image:$VERSION" \
      | "$NODE_BIN_DIR/ctr" --address "$STATE_DIR/node/containerd.sock" -n k8s.io images import - >/dev/null
    echo "$id" > "$marker"
  done
fi
