#!/usr/bin/env bash
# Crash test, run by make test: its own cluster (it is killed with SIGKILL), three kill points.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=$(mktemp -d /tmp/channel_sync_crash.XXXXXX)
port=$(( ${2:-30000} + 1 ))
trap 'scripts/cluster.sh stop "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
/usr/bin/python3 test/crash/crash.py "$dir" "$port" "${CRASH_KILL_POINTS:-1.5,3,5}" || echo "not ok crash_test_driver"
