#!/usr/bin/env bash
# Short soak inside make test (SOAK_TEST_SECONDS, default 15): the demo catalog in a database of
# the test cluster, steady mixed load, then drain; prints the soak's ok / not ok lines.
set -uo pipefail
cd "$(dirname "$0")/../.."
eval "$(scripts/cluster.sh env "$1" "$2")"
out=build/soak-test
mkdir -p "$out"
{ psql -qX -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS soak_test' \
       -c 'CREATE DATABASE soak_test' \
  && psql -qX -v ON_ERROR_STOP=1 -d soak_test -c 'CREATE EXTENSION channel_sync' \
  && psql -qX -v ON_ERROR_STOP=1 -d soak_test -f demo/steps/10_catalog.sql; } >"$out/setup.log" 2>&1 \
  || { echo "not ok soak_setup"; sed 's/^/#   /' "$out/setup.log" | head; exit 0; }
SOAK_DATABASE=soak_test SOAK_CHECK_RATE=0 SOAK_DRAIN_SECONDS=60 SOAK_SAMPLE_SECONDS=2 \
  /usr/bin/python3 test/soak/soak.py "$1" "$2" "${SOAK_TEST_SECONDS:-15}" "$out" >"$out/soak.log" 2>&1
grep -E '^(ok|not ok) ' "$out/soak.log" || { echo "not ok soak_driver"; tail -n 15 "$out/soak.log" | sed 's/^/#   /'; }
psql -qX -c 'DROP DATABASE soak_test' >/dev/null 2>&1
exit 0
