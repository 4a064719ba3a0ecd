#!/usr/bin/env bash
# Generator test of inbound events: replays a long seeded random history with
# duplicates, reorderings and conflicting repeats through ingest() and ingest_batch(),
# and checks the outcome against an independent model that applies each distinct event
# once; then two connectors' ingest_batch calls race over scarce shared stock, round after
# round, against a serial model (batch_race.py); and seeded malformed deliveries among valid
# ones must fail only as documented and leave the stock consistent (malformed.py). Usage: run_in_test.sh CLUSTER_DIR PORT
# (prints "ok name" / "not ok name").
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=$1 PGPORT=$2 PGUSER=${PGUSER:-postgres}
python3 "$here/generator.py" --seed "${INGEST_SEED:-20240501}" --events "${INGEST_EVENTS:-600}"
generator=$?
python3 "$here/batch_race.py" --seed "${INGEST_SEED:-20240501}" --rounds "${INGEST_RACE_ROUNDS:-40}"
race=$?
python3 "$here/malformed.py" --seed "${INGEST_SEED:-20240501}" --calls "${INGEST_MALFORMED_CALLS:-2000}"
malformed=$?
[ "$generator" -eq 0 ] && [ "$race" -eq 0 ] && [ "$malformed" -eq 0 ]
