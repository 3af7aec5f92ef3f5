#!/usr/bin/env bash
# Start Prometheus and the Pushgateway (Debian's packages, installed here when missing) on
# 127.0.0.1, Prometheus scraping the Pushgateway every second. Idempotent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PROMETHEUS_PORT=${KUBETUNE_PROMETHEUS_PORT:-29090}
PUSHGATEWAY_PORT=${KUBETUNE_PUSHGATEWAY_PORT:-29091}

if ! command -v prometheus >/dev/null || ! command -v prometheus-pushgateway >/dev/null; then
  apt_install prometheus prometheus-pushgateway
fi

dir="$STATE_DIR/prometheus"
mkdir -p "$dir/data" "$STATE_DIR/logs" "$STATE_DIR/pids"
start() {
  local name=$1; shift
  alive "$name" && return 0
  setsid "$@" >"$STATE_DIR/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE_DIR/pids/$name.pid"
}
cat > "$dir/prometheus.yml" <<CONFIG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:${PUSHGATEWAY_PORT}"]
CONFIG
start pushgateway prometheus-pushgateway --web.listen-address "127.0.0.1:${PUSHGATEWAY_PORT}"
start prometheus prometheus --config.file "$dir/prometheus.yml" --storage.tsdb.path "$dir/data" \
  --web.listen-address "127.0.0.1:${PROMETHEUS_PORT}" --web.enable-lifecycle
deadline=$(( $(date +%s) + 60 ))
until curl -sf "http://127.0.0.1:${PROMETHEUS_PORT}/-/ready" >/dev/null \
   && curl -sf "http://127.0.0.1:${PUSHGATEWAY_PORT}/-/ready" >/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    tail -n 20 "$STATE_DIR/logs/prometheus.log" "$STATE_DIR/logs/pushgateway.log" >&2
    die "Prometheus or the Pushgateway did not become ready"
  fi
  sleep 0.3
done
echo "Prometheus http://127.0.0.1:${PROMETHEUS_PORT}  Pushgateway http://127.0.0.1:${PUSHGATEWAY_PORT}"
