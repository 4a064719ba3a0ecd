#!/usr/bin/env bash
# make bench: every benchmark side by side with its baselines, in one run, on one
# throwaway cluster with production durability, then bench/results/REPORT.md.
#
#   make bench                     SCALE=default, every bench/<area>/run.sh, growth pass included
#   SCALE=small make bench         quick (iteration); SCALE=large: bigger data, more runs
#   AREAS="ingest parity" make bench   only those areas
#
# Convention for an area (bench/README.md): bench/<area>/run.sh gets PGHOST PGPORT PGUSER
# PGDATABASE (a fresh database with CREATE EXTENSION channel_sync done), SCALE and BENCH_OUT,
# and writes $BENCH_OUT/<area>.tsv and $BENCH_OUT/<area>-targets.tsv. An area whose run.sh
# has the line "# bench-growth: yes" is called again with GROWTH=1 SIZE=<n> for three sizes.
# A failing or timed-out area is recorded and the others still run; the cluster is stopped
# on every exit path.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)
PGBIN=/usr/lib/postgresql/15/bin
export PATH="$PGBIN:$PATH"

SCALE=${SCALE:-default}
case "$SCALE" in
  small)   d_budget=600;  d_area=180;  d_growth=120; d_catalog=120; d_sizes="1000 10000 100000" ;;
  default) d_budget=840;  d_area=240;  d_growth=150; d_catalog=300; d_sizes="10000 100000 1000000" ;;
  large)   d_budget=5400; d_area=1200; d_growth=900; d_catalog=900; d_sizes="10000 100000 1000000" ;;
  *) echo "bench: SCALE must be small, default or large (got '$SCALE')" >&2; exit 2 ;;
esac
budget=${BENCH_BUDGET:-$d_budget}              # whole run, seconds; what does not fit is skipped, and said so
area_limit=${BENCH_AREA_TIMEOUT:-$d_area}      # one main-pass run.sh
growth_limit=${BENCH_GROWTH_TIMEOUT:-$d_growth} # one growth run.sh call (one size)
catalog_limit=${BENCH_CATALOG_TIMEOUT:-$d_catalog} # building the shared growth catalog of one size
sizes=${GROWTH_SIZES:-$d_sizes}
reserve=20                                     # kept for the report at the end
results=$root/bench/results
lock=/tmp/channel_sync.install.lock

say() { printf 'bench: %s\n' "$*"; }
elapsed() { echo $(($(date +%s) - started)); }
lock_wait=0                                    # seconds spent waiting for other work trees' installs
remaining() { echo $((budget + lock_wait - $(elapsed) - reserve)); }

# ---- which areas
all_areas=()
for f in bench/*/run.sh; do
  [ -x "$f" ] && all_areas+=("$(basename "$(dirname "$f")")")
done
if [ -n "${AREAS:-}" ]; then
  areas=()
  for a in $AREAS; do
    if [ ! -x "bench/$a/run.sh" ]; then
      echo "bench: no executable bench/$a/run.sh (available: ${all_areas[*]:-none})" >&2
      exit 2
    fi
    areas+=("$a")
  done
else
  areas=("${all_areas[@]+"${all_areas[@]}"}")
fi
[ ${#areas[@]} -gt 0 ] || { echo "bench: no bench/*/run.sh to run" >&2; exit 2; }
growth_areas=()
for a in "${areas[@]}"; do # the areas of the issues first, the machine's own baseline last at each size
  [ "$a" != baseline ] && grep -qE '^# *bench-growth: *yes' "bench/$a/run.sh" && growth_areas+=("$a")
done
for a in "${areas[@]}"; do
  [ "$a" = baseline ] && grep -qE '^# *bench-growth: *yes' "bench/$a/run.sh" && growth_areas+=("$a")
done
[ "${BENCH_GROWTH:-1}" = 0 ] && growth_areas=()
# Areas that also declare "# bench-growth-catalog: yes" get their growth database as a copy of one
# shared database holding bench/growth_catalog.sql at that size (built once per size: loading 10^6
# SKUs takes minutes), with GROWTH_CATALOG=1 in their environment.
declare -A catalog_area=()
for a in "${growth_areas[@]+"${growth_areas[@]}"}"; do
  grep -qE '^# *bench-growth-catalog: *yes' "bench/$a/run.sh" && catalog_area[$a]=1
done
say "SCALE=$SCALE, areas: ${areas[*]}; growth: ${growth_areas[*]:-none} at sizes $sizes; budget ${budget}s"

rm -rf "$results"
mkdir -p "$results/meta" "$results/raw/main" "$results/raw/growth" "$results/charts"
: >"$results/meta/runs.tsv"

# ---- dependencies, build, install
scripts/deps.sh || exit 1
say "building"
make -s -j2 >"$results/build.log" 2>&1 || { tail -n 40 "$results/build.log"; say "build failed"; exit 1; }
ext_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" channel_sync.control)
pkglibdir=$(pg_config --pkglibdir)
extdir=$(pg_config --sharedir)/extension
# Other work trees install into the same system dirs: (re)install ours under the lock when
# the installed files are not the ones built here. Prints "reinstalled" when it had to.
ensure_installed() {
  if cmp -s channel_sync.so "$pkglibdir/channel_sync.so" &&
     cmp -s "channel_sync--$ext_version.sql" "$extdir/channel_sync--$ext_version.sql"; then
    return 0
  fi
  make -s install >>"$results/build.log" 2>&1 || return 1
  echo reinstalled
}
w0=$(date +%s)
flock "$lock" make -s install >>"$results/build.log" 2>&1 || { tail -n 40 "$results/build.log"; say "install failed"; exit 1; }
lock_wait=$(($(date +%s) - w0))

# ---- the cluster: production durability
cluster=${BENCH_CLUSTER:-$(mktemp -d /tmp/channel_sync_bench.XXXXXX)}
port=${BENCH_PORT:-$((20000 + RANDOM % 20000))}
child=""
cleanup() {
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
  scripts/cluster.sh stop "$cluster"
  [ "${BENCH_KEEP_CLUSTER:-0}" = 1 ] || rm -rf "$cluster"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
conf=(
  'fsync = on' 'synchronous_commit = on' 'full_page_writes = on' 'wal_level = replica'
  'shared_buffers = 1GB' 'max_connections = 60' 'work_mem = 16MB' 'maintenance_work_mem = 256MB'
  'max_wal_size = 4GB' 'min_wal_size = 1GB' 'checkpoint_timeout = 15min' 'checkpoint_completion_target = 0.9'
  'log_checkpoints = on'
  # the batched notifier needs it; channel_sync.notify_mode stays 'transaction' unless a
  # benchmark sets it for its sessions
  "shared_preload_libraries = 'channel_sync'"
)
while IFS= read -r line; do [ -n "$line" ] && conf+=("$line"); done <<<"${BENCH_CONF:-}"
say "cluster in $cluster on port $port"
scripts/cluster.sh start "$cluster" "$port" "${conf[@]}" || { say "cluster did not start"; exit 1; }
eval "$(scripts/cluster.sh env "$cluster" "$port")"
export PGHOST PGPORT PGUSER PGDATABASE SCALE

# ---- the machine
say "pg_test_fsync -s ${BENCH_FSYNC_SECONDS:-2} (about 20 tests)"
pg_test_fsync -s "${BENCH_FSYNC_SECONDS:-2}" -f "$cluster/pg_test_fsync.tmp" >"$results/meta/pg_test_fsync.txt" 2>&1 &
child=$!
wait "$child"
child=""
rm -f "$cluster/pg_test_fsync.tmp"
settings="server_version fsync synchronous_commit full_page_writes wal_sync_method wal_level commit_delay
  shared_buffers effective_cache_size work_mem maintenance_work_mem max_wal_size checkpoint_timeout
  max_connections max_worker_processes max_parallel_workers_per_gather jit huge_pages autovacuum
  shared_preload_libraries channel_sync.notify_mode channel_sync.notify_interval"
psql -qAtX -F $'\t' -c "SELECT n, pg_catalog.current_setting(n) FROM pg_catalog.unnest(string_to_array('$(echo $settings)', ' ')) AS n" \
  >"$results/meta/settings.tsv"
wal_sync=$(psql -qAtX -c 'SHOW wal_sync_method')
fsync_ops=$(awk -v m="$wal_sync" '/using one 8kB write/ {on=1; next} /^Compare/ {on=0}
  on && $1 == m && $3 == "ops/sec" {printf "%d", $2; exit}' "$results/meta/pg_test_fsync.txt")
export BENCH_FSYNC_OPS=${fsync_ops:-}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- one run.sh call: fresh database, extension created, time limit; records a runs.tsv line
run_one() {
  local phase=$1 area=$2 size=$3 limit=$4 out=$5
  local db="bench_${area}" t0 rc status note="" left
  mkdir -p "$out"
  left=$(remaining)
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 15 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$area" "$size" skipped 0 "time budget (${budget}s) used up" >>"$results/meta/runs.tsv"
    say "$phase $area ${size:+size $size }skipped: time budget used up"
    return 2
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1
  local from_catalog=0
  if [ "$phase" = growth ] && [ -n "${catalog_area[$area]:-}" ] && [ -n "${catalog_db[$size]:-}" ]; then
    from_catalog=1
    # a file-level copy of the catalog database (the extension is in it): ours must be the build installed
    local r w0=$(date +%s)
    r=$( { flock 9 && ensure_installed && createdb -S file_copy -T "${catalog_db[$size]}" "$db" >&2; } 9>"$lock" 2>"$out/create.log") \
      || note="copy of the growth catalog failed: $(tr '\n' ' ' <"$out/create.log" | cut -c1-200)"
    lock_wait=$((lock_wait + $(date +%s) - w0))
    [ "$r" = reinstalled ] && say "(re)installed this tree's build: another work tree had installed its own"
  else
    createdb "$db" || { note="createdb failed"; }
  fi
  if [ -z "$note" ] && [ "$from_catalog" = 0 ]; then
    # install check and CREATE EXTENSION under the lock, so another work tree's install cannot slip in between
    local r w0=$(date +%s)
    r=$( { flock 9 && ensure_installed &&
           psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION channel_sync' >&2; } 9>"$lock" 2>"$out/create.log") \
      || note="CREATE EXTENSION failed: $(tr '\n' ' ' <"$out/create.log" | cut -c1-200)"
    lock_wait=$((lock_wait + $(date +%s) - w0))
    [ "$r" = reinstalled ] && say "(re)installed this tree's build: another work tree had installed its own"
  fi
  t0=$(date +%s)
  if [ -z "$note" ]; then
    say "$phase $area${size:+ SIZE=$size} (limit ${limit}s)"
    if [ "$phase" = growth ]; then
      PGDATABASE=$db BENCH_OUT=$out BENCH_TIME_LIMIT=$limit BENCH_AREA_SECONDS=$((limit * 3 / 4)) GROWTH=1 SIZE=$size \
        GROWTH_CATALOG=$from_catalog \
        timeout --kill-after=15 "$limit" "bench/$area/run.sh" >"$out/run.log" 2>&1 &
    else
      PGDATABASE=$db BENCH_OUT=$out BENCH_TIME_LIMIT=$limit BENCH_AREA_SECONDS=$((limit * 3 / 4)) \
        timeout --kill-after=15 "$limit" "bench/$area/run.sh" >"$out/run.log" 2>&1 &
    fi
    child=$!
    wait "$child"
    rc=$?
    child=""
    case $rc in
      0) if [ -s "$out/$area.tsv" ]; then status=ok; else status=failed note="exit 0 but no $area.tsv"; fi ;;
      124 | 137) status=timeout note="killed after ${limit}s" ;;
      *) status=failed note="exit $rc: $(grep -v '^\s*$' "$out/run.log" | tail -n 1 | cut -c1-160)" ;;
    esac
    if ! cmp -s channel_sync.so "$pkglibdir/channel_sync.so"; then
      note="${note:+$note; }another work tree installed its build during this run: figures may be of that build"
    fi
  else
    status=failed
  fi
  local secs=$(($(date +%s) - t0))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$area" "$size" "$status" "$secs" "$note" >>"$results/meta/runs.tsv"
  say "$phase $area${size:+ SIZE=$size}: $status in ${secs}s${note:+ ($note)}"
  if [ "${BENCH_KEEP_DB:-0}" != 1 ]; then dropdb --if-exists --force "$db" >/dev/null 2>&1; fi
  [ "$status" = ok ]
}

failures=0
for a in "${areas[@]}"; do
  [ "${BENCH_MAIN:-1}" = 0 ] && break # growth pass only (iteration on growth)
  run_one main "$a" "" "$area_limit" "$results/raw/main/$a"
  [ $? -eq 1 ] && failures=$((failures + 1))
done

# The shared growth catalog of one size: database bench_catalog_<size>, extension and
# bench/growth_catalog.sql loaded, checkpointed; dropped when the size is done.
declare -A catalog_db=()
build_catalog() {
  local size=$1 db="bench_catalog_$1" out="$results/raw/catalog/$1" limit=$catalog_limit left t0 rc status note="" r w0
  mkdir -p "$out"
  left=$(remaining)
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 15 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' catalog growth_catalog "$size" skipped 0 "time budget (${budget}s) used up" >>"$results/meta/runs.tsv"
    say "growth catalog of $size SKUs skipped: time budget used up"
    return 2
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1
  t0=$(date +%s)
  w0=$t0
  r=$( { flock 9 && ensure_installed && createdb "$db" &&
         psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION channel_sync' >&2; } 9>"$lock" 2>"$out/create.log") \
    || note="CREATE EXTENSION failed: $(tr '\n' ' ' <"$out/create.log" | cut -c1-200)"
  lock_wait=$((lock_wait + $(date +%s) - w0))
  if [ -z "$note" ]; then
    say "growth catalog of $size SKUs (limit ${limit}s)"
    timeout --kill-after=15 "$limit" psql -X -v ON_ERROR_STOP=1 -d "$db" -v n="$size" \
      -f bench/growth_catalog.sql -c CHECKPOINT >"$out/run.log" 2>&1 &
    child=$!
    wait "$child"
    rc=$?
    child=""
    case $rc in
      0) status=ok ;;
      124 | 137) status=timeout note="killed after ${limit}s: the areas load their own catalog at this size" ;;
      *) status=failed note="exit $rc: $(grep -v '^\s*$' "$out/run.log" | tail -n 1 | cut -c1-160)" ;;
    esac
  else
    status=failed
  fi
  local secs=$(($(date +%s) - t0))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' catalog growth_catalog "$size" "$status" "$secs" "$note" >>"$results/meta/runs.tsv"
  say "growth catalog of $size SKUs: $status in ${secs}s${note:+ ($note)}"
  if [ "$status" = ok ]; then catalog_db[$size]=$db; else dropdb --if-exists --force "$db" >/dev/null 2>&1; fi
  [ "$status" = ok ]
}

declare -A broken=()
for size in $sizes; do
  need_catalog=0
  for a in "${!catalog_area[@]}"; do [ -z "${broken[$a]:-}" ] && need_catalog=1; done
  if [ "$need_catalog" = 1 ]; then
    build_catalog "$size"
    rc=$?
    [ $rc -eq 1 ] && failures=$((failures + 1))
    if [ $rc -ne 0 ]; then # no catalog: its areas would each spend their limit loading it; skip them at this size and above
      for a in "${!catalog_area[@]}"; do
        [ -n "${broken[$a]:-}" ] && continue
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' growth "$a" "$size" skipped 0 "the growth catalog of this size did not complete" >>"$results/meta/runs.tsv"
        broken[$a]=1
      done
    fi
  fi
  for a in "${growth_areas[@]+"${growth_areas[@]}"}"; do
    if [ -n "${broken[$a]:-}" ]; then
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' growth "$a" "$size" skipped 0 "a smaller size did not complete" >>"$results/meta/runs.tsv"
      continue
    fi
    run_one growth "$a" "$size" "$growth_limit" "$results/raw/growth/$a/$size"
    rc=$?
    [ $rc -eq 0 ] || broken[$a]=1
    [ $rc -eq 1 ] && failures=$((failures + 1))
  done
  if [ -n "${catalog_db[$size]:-}" ]; then
    dropdb --if-exists --force "${catalog_db[$size]}" >/dev/null 2>&1
    unset "catalog_db[$size]"
  fi
done

# ---- the machine, as it was during the run
{
  printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'commit\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  printf 'scale\t%s\n' "$SCALE"
  printf 'areas\t%s\n' "${areas[*]}"
  printf 'duration\t%s s (budget %s s; %s s more spent waiting for the install lock)\n' "$(elapsed)" "$budget" "$lock_wait"
  printf 'CPU\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  printf 'cores (nproc)\t%s\n' "$(nproc)"
  printf 'memory\t%s GB\n' "$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)"
  printf 'OS / kernel\t%s / %s\n' "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-?}")" "$(uname -r)"
  printf 'cluster filesystem\t%s\n' "$(df -PTh "$cluster" | awk 'NR == 2 {print $1 " (" $2 ", " $3 ")"}')"
  printf 'load average (1/5/15 min)\tat start %s, at end %s — the machine may be shared; a high load lowers every figure alike\n' \
    "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'PostgreSQL\t%s\n' "$(psql -qAtX -c 'SELECT pg_catalog.version()')"
  printf 'extra postgresql.conf\t%s\n' "$(printf '%s; ' "${conf[@]}")"
} >"$results/meta/machine.tsv"

say "writing the report"
python3 bench/report.py "$results" || failures=$((failures + 1))
if [ "$failures" -eq 0 ]; then say "done in $(elapsed)s: $results/REPORT.md"
else say "done in $(elapsed)s: $results/REPORT.md ($failures run(s) failed or timed out: see the report)"; fi
[ "$failures" -eq 0 ]
