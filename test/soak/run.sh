#!/usr/bin/env bash
# make soak: SOAK_SECONDS (default 600) of steady mixed load against a cluster of its own with
# production durability, then drain and check; writes test/soak/out/REPORT.md.
#   SOAK_SECONDS   load duration (default 600)      SOAK_PORT   cluster port (default 5508)
#   SOAK_RATE      ingest calls/s (default 40)      SOAK_DIR    cluster dir (default /tmp/cs-soak)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${SOAK_DIR:-/tmp/cs-soak}
port=${SOAK_PORT:-5508}
out=test/soak/out
mkdir -p "$out" build

echo "== build and install (under the install lock)"
make -s -j2 >build/soak-build.log 2>&1 || { cat build/soak-build.log; exit 1; }
flock /tmp/channel_sync.install.lock make -s install >build/soak-install.log 2>&1 \
  || { cat build/soak-install.log; exit 1; }

trap 'scripts/cluster.sh stop "$dir"' EXIT
echo "== cluster $dir (port $port, fsync = on, synchronous_commit = on, batched notifier)"
scripts/cluster.sh start "$dir" "$port" 'fsync = on' 'synchronous_commit = on' \
  "shared_preload_libraries = 'channel_sync'" 'channel_sync.notify_mode = batched'
eval "$(scripts/cluster.sh env "$dir" "$port")"
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE soak'
export PGDATABASE=soak
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION channel_sync'
echo "== catalog (demo/steps/10_catalog.sql: 5 channels, 3 locations, 10,000 SKUs)"
psql -qX -v ON_ERROR_STOP=1 -f demo/steps/10_catalog.sql >/dev/null

/usr/bin/python3 test/soak/soak.py "$dir" "$port" "${SOAK_SECONDS:-600}" "$out"
