#!/usr/bin/env bash
# Stock changes and connectors (claim, ack, fail, lapsing leases, requeue) at once, then
# drained and checked (connector_race.py). Usage: run_in_test.sh CLUSTER_DIR PORT
# (prints "ok name" / "not ok name").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=$1 PGPORT=$2 PGUSER=${PGUSER:-postgres}
python3 "$here/connector_race.py" --seed "${PROPAGATION_SEED:-20240501}" --rounds "${PROPAGATION_ROUNDS:-150}"
