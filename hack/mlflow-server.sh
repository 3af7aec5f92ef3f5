#!/usr/bin/env bash
# The MLflow tracking server the tests start (with a sqlite store of their own): the full
# `mlflow` package (Flask, SQLAlchemy, alembic, pandas, pyarrow) in a virtual environment of
# its own, cached by version in ~/.cache/kubetune/mlflow-VERSION (about a minute the first
# time), so none of it reaches kubetune's. Prints the `mlflow` command's path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VENV="$CACHE_DIR/mlflow-$MLFLOW_VERSION"
if [ ! -x "$VENV/bin/mlflow" ]; then
  log "installing mlflow $MLFLOW_VERSION (the tests' tracking server) into $VENV"
  rm -rf "$VENV.part"
  python3 -m venv "$VENV.part"
  "$VENV.part/bin/pip" install -q --disable-pip-version-check "mlflow==$MLFLOW_VERSION" >&2
  rm -rf "$VENV" && mv "$VENV.part" "$VENV"
  # a venv moved after creation: its scripts name the old interpreter path
  sed -i "1s|$VENV.part|$VENV|" "$VENV"/bin/* 2>/dev/null || true
fi
echo "$VENV/bin/mlflow"
