#!/usr/bin/env bash
# Batched notifier, run by make test: a cluster of its own (channel_sync in
# shared_preload_libraries), plus the no-preload fallback checked on the main test cluster.
# Usage: run_in_test.sh MAIN_CLUSTER_DIR MAIN_PORT (prints "ok name" / "not ok name").
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/channel_sync_notifier.XXXXXX)
port=$(( ${2:-30000} + 2 ))
trap 'scripts/cluster.sh stop "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
/usr/bin/python3 test/notifier/notifier.py "$dir" "$port" "$1" "$2" || echo "not ok notifier_test_driver"
