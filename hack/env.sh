#!/usr/bin/env bash
# Print where the local cluster's pieces are, as shell assignments (for scripts and pytest).
source "$(dirname "$0")/lib.sh"
echo "KUBETUNE_BIN_DIR=$BIN_DIR"
echo "KUBETUNE_STATE_DIR=$STATE_DIR"
echo "KUBECONFIG=$KUBECONFIG_PATH"
