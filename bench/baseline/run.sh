#!/usr/bin/env bash
# bench-growth: yes
# The machine's commit ceiling: a bare, fsync'd single-row UPDATE and INSERT per transaction
# (no extension work, no trigger) with pgbench at 1 and 8 clients. Every other benchmark's
# "limit" is a variant of this; its ratios are read against these figures.
#
# Growth pass (GROWTH=1 SIZE=n): the same bare table with n SKUs; a whole-table UPDATE in one
# statement (cost per SKU should be flat: linear total) and 1-client single-row UPDATEs, 100 per
# transaction (cost per row should not depend on n). They are the growth curves of the bare table,
# against which propagation, ingest and recompute growth can be read.
#
# Env (bench/README.md): PGHOST PGPORT PGUSER PGDATABASE SCALE BENCH_OUT [GROWTH SIZE BENCH_FSYNC_OPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${BENCH_OUT:?BENCH_OUT is required}"
SCALE=${SCALE:-default}
case "$SCALE" in
  small) secs=3; runs=3; gsecs=2 ;;
  large) secs=10; runs=7; gsecs=5 ;;
  *) secs=3; runs=5; gsecs=3 ;;
esac
mkdir -p "$BENCH_OUT"
tsv=$BENCH_OUT/baseline.tsv
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
psql_() { psql -qAtX -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' "$@"; }

# pgbench SCRIPT CLIENTS SECONDS ROWS -> "tps latency_ms" (fails if pgbench printed no tps)
pgbench_run() {
  local script=$1 clients=$2 seconds=$3 rows=$4 jobs out
  jobs=$((clients < 2 ? clients : 2))
  psql_ -c CHECKPOINT
  out=$(pgbench -n -M prepared -c "$clients" -j "$jobs" -T "$seconds" -D rows="$rows" -f "$script" 2>&1) \
    || { echo "$out" >&2; return 1; }
  awk '/^tps = / {tps = $3} /^latency average = / {lat = $4}
       END {if (tps == "") exit 1; print tps, (lat == "" ? "nan" : lat)}' <<<"$out" \
    || { echo "$out" >&2; return 1; }
}

# samples lines "benchmark clients size metric unit value" -> baseline.tsv rows (median, min, max, runs)
summarize() {
  printf 'benchmark\tvariant\tclients\tsize\tmetric\tunit\tmedian\tmin\tmax\truns\n' >"$tsv"
  sort -t $'\t' -k1,1 -k2,2n -k3,3n -k4,4 -k6,6g "$samples" | awk -F '\t' -v OFS='\t' '
    function flush() {
      if (n == 0) return
      med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      print b, "limit", c, s, m, u, med, v[1], v[n], n
      n = 0
    }
    { key = $1 FS $2 FS $3 FS $4 FS $5
      if (key != last) { flush(); last = key; b = $1; c = $2; s = $3; m = $4; u = $5 }
      v[++n] = $6 }
    END { flush() }' >>"$tsv"
}

if [ "${GROWTH:-0}" = 1 ]; then
  size=${SIZE:?SIZE is required with GROWTH=1}
  psql_ -v rows="$size" -f "$here/setup.sql"
  # 100 single-row UPDATEs (random SKUs) per transaction: one WAL sync per 100 rows, so the figure is
  # the per-row lookup and update, not the disk's sync latency (which does not depend on the size)
  batch=$(mktemp --suffix=.sql); trap 'rm -f "$samples" "$batch"' EXIT
  { echo 'BEGIN;'
    for i in $(seq 100); do
      echo "\\set n$i random(1, :rows)"
      echo "UPDATE baseline_stock SET on_hand = on_hand + 1 WHERE sku = 'sku-' || lpad(:n$i::text, 7, '0');"
    done
    echo 'COMMIT;'; } >"$batch"
  pgbench_run "$batch" 1 1 "$size" >/dev/null # warm-up, discarded
  for r in $(seq "$runs"); do
    # whole catalog in one statement and one commit; VACUUM first so every run starts from the same table
    psql_ -c 'VACUUM baseline_stock' -c CHECKPOINT
    ms=$(psql -qX -v ON_ERROR_STOP=1 -c '\timing on' -c 'UPDATE baseline_stock SET on_hand = on_hand + 1' |
         sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    [ -n "$ms" ] || { echo "no timing from psql" >&2; exit 1; }
    printf 'bulk_update\t1\t%s\ttime\ts\t%s\n' "$size" "$(awk -v ms="$ms" 'BEGIN {printf "%.6f", ms / 1000}')" >>"$samples"
    read -r tps _ < <(pgbench_run "$batch" 1 "$gsecs" "$size")
    ups=$(awk -v t="$tps" 'BEGIN {printf "%.1f", t * 100}')
    printf 'point_update\t1\t%s\tsingle-row UPDATEs/s\tupdates/s\t%s\n' "$size" "$ups" >>"$samples"
    echo "size $size run $r: bulk ${ms} ms, point ${ups} updates/s"
  done
  summarize
  cat >"$BENCH_OUT/baseline-notes.md" <<'EOF'
Baseline growth: `bulk_update` is one `UPDATE` of every row of a bare stock-shaped table (the
floor under any whole-catalog recompute or propagation); `point_update` is 1 client running
single-row UPDATEs of random SKUs, 100 per fsync'd transaction, on a table of that size (its
per-row cost should not depend on the size: a B-tree lookup, until the table outgrows memory).
EOF
  exit 0
fi

rows=10000
psql_ -v rows="$rows" -f "$here/setup.sql"
pgbench_run "$here/update.sql" 1 2 "$rows" >/dev/null # warm-up, discarded
# interleave the variants inside each repetition, so slow drift of the machine hits all alike
for r in $(seq "$runs"); do
  for c in 1 8; do
    for b in update insert; do
      read -r tps lat < <(pgbench_run "$here/$b.sql" "$c" "$secs" "$rows")
      printf 'commit_%s\t%s\t\tcommits/s\ttps\t%s\n' "$b" "$c" "$tps" >>"$samples"
      printf 'commit_%s\t%s\t\tlatency avg\tms\t%s\n' "$b" "$c" "$lat" >>"$samples"
      echo "run $r: $b at $c client(s): $tps tps, $lat ms"
    done
  done
done
summarize

# Target: one session cannot commit faster than the WAL device syncs (pg_test_fsync, wal_sync_method).
# A figure far above it means commits are not really reaching stable storage.
targets=$BENCH_OUT/baseline-targets.tsv
printf 'target\tmeasured\tgoal\tholds\n' >"$targets"
if [ -n "${BENCH_FSYNC_OPS:-}" ]; then
  awk -F '\t' -v OFS='\t' -v ceil="$BENCH_FSYNC_OPS" '
    $1 == "commit_update" && $3 == 1 && $5 == "commits/s" {
      goal = 1.25 * ceil
      print "durability is real: 1-client UPDATE commits/s within the WAL sync ceiling",
            sprintf("%.0f commits/s", $7), sprintf("<= 1.25 x %d syncs/s (pg_test_fsync) = %.0f", ceil, goal),
            ($7 <= goal ? "yes" : "no") }' "$tsv" >>"$targets"
fi
cat >"$BENCH_OUT/baseline-notes.md" <<EOF
The baseline is the machine's commit ceiling: every figure of the other areas is read against
it. \`commit_update\` and \`commit_insert\` are bare single-row statements, one fsync'd commit each,
on tables with no trigger ($rows SKUs; pgbench -M prepared, ${secs} s per run, CHECKPOINT before
each run, variants interleaved). At 8 clients group commit lets several commits share one WAL sync.
EOF
