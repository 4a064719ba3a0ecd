#!/usr/bin/env bash
# make demo: build, install, start a throwaway cluster, create the extension and run
# demo/steps/* in order (*.sql through psql, *.sh as scripts with PG* set), then stop.
# Each capability adds its own step file; this script does not change.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/deps.sh
echo "building…"
exec 9>/tmp/channel_sync.install.lock
flock 9
make -s -j2 >build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
make -s install >>build-demo.log 2>&1 || { cat build-demo.log; exit 1; }
rm -f build-demo.log

cluster=$(mktemp -d /tmp/channel_sync_demo.XXXXXX)
port=$((20000 + RANDOM % 20000))
trap 'scripts/cluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
# as a production install would run it: preloaded, connectors woken by the batched notifier
scripts/cluster.sh start "$cluster" "$port" "shared_preload_libraries = 'channel_sync'" \
  "channel_sync.notify_mode = batched"
eval "$(scripts/cluster.sh env "$cluster" "$port")"
export DEMO_CLUSTER=$cluster
createdb channel_sync_demo
export PGDATABASE=channel_sync_demo
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION channel_sync'
echo "channel_sync demo on a throwaway cluster ($cluster)"

for step in demo/steps/*; do
  case "$step" in
    *.sql) psql -qX -v ON_ERROR_STOP=1 -f "$step" ;;
    *.sh) bash "$step" ;;
  esac
done
echo
echo "demo finished in $(( $(date +%s) - started )) s"
