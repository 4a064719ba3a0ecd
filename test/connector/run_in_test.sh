#!/usr/bin/env bash
# The example connector over HTTP against the simulated marketplace: an outage, faults,
# terminated sessions, polling, a clean stop (connector_http.py).
# Usage: run_in_test.sh CLUSTER_DIR PORT (prints "ok name" / "not ok name").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=$1 PGPORT=$2 PGUSER=${PGUSER:-postgres}
python3 "$here/connector_http.py"
