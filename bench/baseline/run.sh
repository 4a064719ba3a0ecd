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
. "$here/../lib.sh"
bench_init baseline
case "$SCALE" in
  small) secs=3; runs=3; gsecs=2 ;;
  large) secs=10; runs=7; gsecs=5 ;;
  *) secs=3; runs=3; gsecs=3 ;;
esac
psql_() { psql -qAtX -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' "$@"; }

if [ "${GROWTH:-0}" = 1 ]; then
  size=${SIZE:?SIZE is required with GROWTH=1}
  psql_ -v rows="$size" -f "$here/setup.sql"
  # 100 single-row UPDATEs (random SKUs) per transaction: one WAL sync per 100 rows, so the figure is
  # the per-row lookup and update, not the disk's sync latency (which does not depend on the size)
  batch=$(mktemp --suffix=.sql); trap 'rm -f "$batch"' EXIT
  { echo 'BEGIN;'
    for i in $(seq 100); do
      echo "\\set n$i random(1, :rows)"
      echo "UPDATE baseline_stock SET on_hand = on_hand + 1 WHERE sku = 'sku-' || lpad(:n$i::text, 7, '0');"
    done
    echo 'COMMIT;'; } >"$batch"
  bench_pgbench "$batch" 1 1 -D rows="$size" >/dev/null # warm-up, discarded
  for r in $(seq "$runs"); do
    # whole catalog in one statement and one commit; VACUUM first so every run starts from the same table
    psql_ -c 'VACUUM baseline_stock' -c CHECKPOINT
    ms=$(bench_ms 'UPDATE baseline_stock SET on_hand = on_hand + 1')
    bench_sample bulk_update limit 1 "$size" time s "$(awk -v ms="$ms" 'BEGIN {printf "%.6f", ms / 1000}')"
    read -r tps _ < <(bench_pgbench "$batch" 1 "$gsecs" -D rows="$size")
    ups=$(awk -v t="$tps" 'BEGIN {printf "%.1f", t * 100}')
    bench_sample point_update limit 1 "$size" "single-row UPDATEs/s" updates/s "$ups"
    echo "size $size run $r: bulk ${ms} ms, point ${ups} updates/s"
  done
  bench_write
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
bench_pgbench "$here/update.sql" 1 2 -D rows="$rows" >/dev/null # warm-up, discarded
# interleave the variants inside each repetition, so slow drift of the machine hits all alike
for r in $(seq "$runs"); do
  for c in 1 8; do
    for b in update insert; do
      read -r tps lat < <(bench_pgbench "$here/$b.sql" "$c" "$secs" -D rows="$rows")
      bench_sample "commit_$b" limit "$c" "" commits/s tps "$tps"
      bench_sample "commit_$b" limit "$c" "" "latency avg" ms "$lat"
      echo "run $r: $b at $c client(s): $tps tps, $lat ms"
    done
  done
done
bench_write

# Target: one session cannot commit faster than the WAL device syncs (pg_test_fsync, wal_sync_method).
# A figure far above it means commits are not really reaching stable storage.
if [ -n "${BENCH_FSYNC_OPS:-}" ]; then
  tps1=$(awk -F '\t' '$1 == "commit_update" && $3 == 1 && $5 == "commits/s" {print $7}' "$BENCH_TSV")
  goal=$(awk -v c="$BENCH_FSYNC_OPS" 'BEGIN {printf "%.0f", 1.25 * c}')
  bench_target "durability is real: 1-client UPDATE commits/s within the WAL sync ceiling" \
    "$(printf '%.0f' "$tps1") commits/s" "<= 1.25 x $BENCH_FSYNC_OPS syncs/s (pg_test_fsync) = $goal" \
    "$(awk -v t="$tps1" -v g="$goal" 'BEGIN {print (t <= g) ? "yes" : "no"}')"
fi
cat >"$BENCH_OUT/baseline-notes.md" <<EOF
The baseline is the machine's commit ceiling: every figure of the other areas is read against
it. \`commit_update\` and \`commit_insert\` are bare single-row statements, one fsync'd commit each,
on tables with no trigger ($rows SKUs; pgbench -M prepared, ${secs} s per run, CHECKPOINT before
each run, variants interleaved). At 8 clients group commit lets several commits share one WAL sync.
EOF
