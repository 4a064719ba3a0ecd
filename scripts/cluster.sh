#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests, demo and benchmarks.
#   scripts/cluster.sh start DIR PORT [extra postgresql.conf lines...]
#   scripts/cluster.sh stop DIR
#   scripts/cluster.sh env DIR PORT     prints PGHOST/PGPORT/PGUSER exports
# PostgreSQL refuses to run as root, so under root the cluster belongs to the
# unprivileged 'postgres' user (created if absent); clients connect over a Unix
# socket inside DIR as the database superuser 'postgres' with trust auth.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: cluster.sh start|stop|env DIR [PORT]}
dir=$(realpath -m "${2:?cluster dir}")
port=${3:-5499}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  chmod 755 "$dir"
  as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    echo "port = $port"
    echo "max_connections = 60"
    echo "shared_buffers = 256MB"
    echo "max_prepared_transactions = 10"
    echo "log_min_messages = warning"
    for line in "${extra[@]+"${extra[@]}"}"; do echo "$line"; done
  } | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
}

stop() {
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 \
    || as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
}

case "$cmd" in
  start) extra=("${@:4}"); start ;;
  stop) stop ;;
  env) echo "export PGHOST='$dir' PGPORT=$port PGUSER=postgres PGDATABASE=postgres" ;;
  *) echo "usage: cluster.sh start|stop|env DIR [PORT]" >&2; exit 2 ;;
esac
