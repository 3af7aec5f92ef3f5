#!/usr/bin/env bash
# Refresh the dashboard's copy of Plotly's JavaScript: the "cartesian" distribution of
# plotly.js (scatter, bar, heatmap, contour: every trace the page draws) as npm publishes it,
# prebuilt and minified (no npm build), pinned here by version and checksum. Why not the full
# bundle in the plotly wheel on PyPI: it is 4.8 MB to this one's 1.5 MB, and parsing it took
# 3.4 s to this one's 1.1 s in headless Chromium on our 2-core machines, the largest part of
# opening a page in a fresh browser. Run after changing the version; commit the file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION=4.1.1
SHA256=79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a
TARGET="$REPO_DIR/operator/kubetune/dashboard/static/plotly-cartesian.min.js"

command -v npm >/dev/null || apt_install npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "plotly.js-cartesian-dist-min@$VERSION" >/dev/null && tar xzf ./*.tgz)
echo "$SHA256  $work/package/plotly-cartesian.min.js" | sha256sum --check --quiet \
  || die "plotly-cartesian.min.js $VERSION does not have the pinned checksum"
cp "$work/package/plotly-cartesian.min.js" "$TARGET"
log "wrote $TARGET (plotly.js $VERSION, MIT)"
