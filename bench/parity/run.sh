#!/usr/bin/env bash
# Parity benchmark: p50/p95/p99 over N lag values (seconds, float8).
#   channel_sync : quantiles(lag_sketch(s), '{0.5,0.95,0.99}')            (parallel-safe aggregate)
#   reference    : percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY s)   (bench/reference/parity_percentile_cont.sql)
#   limit        : avg(s)                                                  (the cost of reading the rows)
# each with the server's default parallel settings and serially (max_parallel_workers_per_gather = 0);
# and the rollup question: p50/p95/p99 of one channel over 30 days from 720 pre-aggregated hourly
# sketches (channel_sync), against percentile_cont over that channel's raw rows (reference) and
# count(*) of the 720 sketch rows (limit).
# SCALE: small 200,000 values, default 2,000,000, large 10,000,000 (the issue's figure).
# Env: PGHOST PGPORT PGUSER PGDATABASE SCALE BENCH_OUT. Every query is repeated RUNS times (median).
set -euo pipefail
: "${BENCH_OUT:=build/bench}"
SCALE=${SCALE:-default}
case "$SCALE" in
  small) n=200000; runs=3 ;;
  large) n=10000000; runs=3 ;;
  *) n=2000000; runs=3 ;;
esac
n=${PARITY_N:-$n}
mkdir -p "$BENCH_OUT"
tsv=$BENCH_OUT/parity.tsv
targets=$BENCH_OUT/parity-targets.tsv
samples=$(mktemp)
trap 'rm -f "$samples"' EXIT
psql_() { psql -qAtX -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c "SET statement_timeout = '10min'" "$@"; }

echo "parity: loading $n lag values (log-normal, median ~20 s) and 720 hourly sketches x 5 channels"
psql_ -f - <<SQL
DROP TABLE IF EXISTS parity_bench_lags, parity_bench_hourly;
CREATE UNLOGGED TABLE parity_bench_lags (channel int, hour int, s float8);
INSERT INTO parity_bench_lags
SELECT g % 5, (g / 5) % 720,
       exp(3 + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
  FROM generate_series(0, $n - 1) g;
VACUUM ANALYZE parity_bench_lags;
CREATE TABLE parity_bench_hourly AS
SELECT channel, timestamptz '2026-01-01' + hour * interval '1 hour' AS hour, channel_sync.lag_sketch(s) AS sketch
  FROM parity_bench_lags GROUP BY channel, hour;
CREATE INDEX ON parity_bench_hourly (channel, hour);
VACUUM ANALYZE parity_bench_hourly;
SQL

# time_ms SETTINGS SQL -> milliseconds of one execution (psql \timing, Unix socket)
time_ms() {
  psql -qX -v ON_ERROR_STOP=1 -c "$1" -c '\timing on' -c "$2" -o /dev/null | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
}
# bench NAME VARIANT SETTINGS SQL SIZE: one warm-up, then RUNS timed executions
bench() {
  local name=$1 variant=$2 settings=$3 sql=$4 size=$5 r ms
  time_ms "$settings" "$sql" >/dev/null
  for r in $(seq "$runs"); do
    ms=$(time_ms "$settings" "$sql")
    [ -n "$ms" ] || { echo "parity: no timing for $name/$variant" >&2; exit 1; }
    printf '%s\t%s\t1\t%s\ttime\tms\t%s\n' "$name" "$variant" "$size" "$ms" >>"$samples"
    echo "  $name $variant run $r: $ms ms"
  done
}

q=("'{0.5,0.95,0.99}'" "ARRAY[0.5, 0.95, 0.99]")
par='SET max_parallel_workers_per_gather = 2'
ser='SET max_parallel_workers_per_gather = 0'
bench quantiles channel_sync "$par" "SELECT channel_sync.quantiles(channel_sync.lag_sketch(s), ${q[0]}) FROM parity_bench_lags" "$n"
bench quantiles reference "$par" "SELECT percentile_cont(${q[1]}) WITHIN GROUP (ORDER BY s) FROM parity_bench_lags" "$n"
bench quantiles limit "$par" "SELECT avg(s) FROM parity_bench_lags" "$n"
bench quantiles_serial channel_sync "$ser" "SELECT channel_sync.quantiles(channel_sync.lag_sketch(s), ${q[0]}) FROM parity_bench_lags" "$n"
bench quantiles_serial reference "$ser" "SELECT percentile_cont(${q[1]}) WITHIN GROUP (ORDER BY s) FROM parity_bench_lags" "$n"
bench quantiles_serial limit "$ser" "SELECT avg(s) FROM parity_bench_lags" "$n"
roll="WHERE channel = 1 AND hour >= timestamptz '2026-01-01' AND hour < timestamptz '2026-01-31'"
bench rollup_30d_hourly channel_sync "$par" "SELECT channel_sync.quantiles(channel_sync.lag_sketch(sketch), ${q[0]}) FROM parity_bench_hourly $roll" 720
bench rollup_30d_hourly reference "$par" "SELECT percentile_cont(${q[1]}) WITHIN GROUP (ORDER BY s) FROM parity_bench_lags WHERE channel = 1" $((n / 5))
bench rollup_30d_hourly limit "$par" "SELECT count(*) FROM parity_bench_hourly $roll" 720

# accuracy of this run (printed, not a target): sketch vs exact
psql_ -c "SELECT 'accuracy: max relative error at p50/p95/p99 = ' || round(max(abs(a / b - 1))::numeric * 100, 3) || ' %'
            FROM unnest((SELECT channel_sync.quantiles(channel_sync.lag_sketch(s), '{0.5,0.95,0.99}') FROM parity_bench_lags),
                        (SELECT percentile_cont(ARRAY[0.5,0.95,0.99]) WITHIN GROUP (ORDER BY s) FROM parity_bench_lags)) u(a, b)"

printf 'benchmark\tvariant\tclients\tsize\tmetric\tunit\tmedian\tmin\tmax\truns\n' >"$tsv"
sort -t $'\t' -k1,1 -k2,2 -k7,7g "$samples" | awk -F '\t' -v OFS='\t' '
  function flush() {
    if (k == 0) return
    med = (k % 2) ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
    print b, var, c, s, m, u, med, v[1], v[k], k
    k = 0
  }
  { key = $1 FS $2
    if (key != last) { flush(); last = key; b = $1; var = $2; c = $3; s = $4; m = $5; u = $6 }
    v[++k] = $7 }
  END { flush() }' >>"$tsv"

med() { awk -F '\t' -v b="$1" -v v="$2" '$1 == b && $2 == v {print $7}' "$tsv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
holds() { awk -v x="$1" -v op="$2" -v g="$3" 'BEGIN {r = (op == ">=") ? x >= g : x <= g; print r ? "yes" : "no"}'; }
{
  printf 'target\tmeasured\tgoal\tholds\n'
  for b in quantiles quantiles_serial; do
    s=$(ratio "$(med $b reference)" "$(med $b channel_sync)")
    printf '%s: percentile_cont time / lag_sketch time (n=%s)\t%s\t>= 5\t%s\n' "$b" "$n" "$s" "$(holds "$s" '>=' 5)"
    a=$(ratio "$(med $b channel_sync)" "$(med $b limit)")
    printf '%s: lag_sketch time / avg() time (n=%s)\t%s\t<= 1.5\t%s\n' "$b" "$n" "$a" "$(holds "$a" '<=' 1.5)"
  done
  r=$(med rollup_30d_hourly channel_sync)
  printf 'rollup: p50/p95/p99 of 30 days from 720 hourly sketches (ms)\t%s\t< 10\t%s\n' "$r" "$(holds "$r" '<=' 9.999)"
} >"$targets"
column -t -s $'\t' "$tsv"
echo
column -t -s $'\t' "$targets"
psql_ -c 'DROP TABLE parity_bench_lags, parity_bench_hourly'
