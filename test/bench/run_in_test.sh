#!/usr/bin/env bash
# Self-check of the `make bench` harness without running a benchmark: feeds the fixed sample
# results in test/bench/sample/ to bench/report.py and checks the report it writes.
# Usage (by make test): test/bench/run_in_test.sh CLUSTER_DIR PORT   (the cluster is not used)
set -uo pipefail
cd "$(dirname "$0")/../.."
sample=test/bench/sample
work=$(mktemp -d /tmp/channel_sync_benchtest.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$sample/." "$work/"
report=$work/REPORT.md

check() { # name, then a command that succeeds when the check holds
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then echo "ok $name"; else echo "not ok $name"; fi
}
has() { grep -qF -- "$1" "$report"; }

python3 bench/report.py "$work" >"$work/report.out" 2>&1
check bench_report_generated test -s "$report"

check bench_report_targets_table has '| Area | Target | Measured | Goal | Holds |'
# the sample's allocation target misses: shown plainly, counted in the summary
check bench_report_miss_shown_as_no grep -qE '^\| allocation \| recompute_targets 1M SKUs x 5 channels \| 6.2 s \| < 5 s \| \*\*NO\*\* \|$' "$report"
check bench_report_hit_shown_as_yes grep -qE '^\| propagation \| 8-client throughput vs limit \| .* \| yes \|$' "$report"
check bench_report_summary_counts_misses has '**4 of 5 targets hold**; 1 missed:'

# one PNG per benchmark, each a real PNG and embedded in the report
png_per_benchmark() {
  local n=0 bench area png
  for tsv in "$sample"/raw/main/*/*.tsv; do
    case "$tsv" in *-targets.tsv) continue ;; esac
    area=$(basename "$(dirname "$tsv")")
    [ "$(head -n 1 "$tsv" | cut -f1)" = benchmark ] || continue
    for bench in $(tail -n +2 "$tsv" | cut -f1 | sort -u); do
      png=$work/charts/$area-$bench.png
      [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
      grep -qF "](charts/$area-$bench.png)" "$report" || return 1
      n=$((n + 1))
    done
  done
  [ "$n" -eq 3 ]
}
check bench_report_png_per_benchmark png_per_benchmark

# ratios: channel_sync 700 tps vs limit 1000 and reference 350 at 1 client
check bench_report_ratio_of_limit grep -qE '^\| tps \| 1 \| — \| \*\*channel_sync\*\* \| 700 tps \| .* \| 70 % \| 2\.00× \|$' "$report"
# a time metric: lower is better, so the ratio is inverted (limit 2.0 s ÷ 6.2 s = 32 %)
check bench_report_ratio_for_times grep -qE '^\| time \| 1 \| 1,000,000 \| \*\*channel_sync\*\* \| 6\.20 s \| .* \| 32 % \| 24\.19× \|$' "$report"

# growth: a linear series, a super-linear one, a flat and an uneven per-operation one, and their charts
check bench_report_growth_linear grep -qE '^- recompute_targets channel_sync 1c \(time\): \*\*linear\*\*' "$report"
check bench_report_growth_superlinear grep -qE '^- recompute_targets reference 1c \(time\): \*\*super-linear\*\*: per-SKU cost rises ×2\.50' "$report"
check bench_report_growth_flat grep -qE '^- stock_update channel_sync 1c \(tps\): \*\*flat\*\*' "$report"
check bench_report_growth_uneven grep -qE '^- stock_update reference 1c \(tps\): \*\*uneven\*\*: .*×2\.00 from 10,000 to 100,000' "$report"
check bench_report_growth_charts test -s "$work/charts/growth-allocation.png" -a -s "$work/charts/growth-propagation.png"

# a malformed area file and a failed run are reported, not hidden
check bench_report_bad_tsv_flagged grep -qE '^- `raw/main/broken/broken.tsv`: header is' "$report"
check bench_report_failed_run_shown has '**This area did not complete: failed**'
check bench_report_machine has '| wal_sync_method | fdatasync |'
check bench_report_fsync_summary grep -qE '^\| fdatasync \| 7,771 \| 129 \| ← wal_sync_method \|$' "$report"

# the validator area helpers can run on their own output
check bench_validate_accepts_good python3 bench/report.py validate "$sample/raw/main/propagation/propagation.tsv" \
  "$sample/raw/main/propagation/propagation-targets.tsv"
check bench_validate_rejects_bad sh -c "! python3 bench/report.py validate '$sample/raw/main/broken/broken.tsv'"

# bench/lib.sh, the helpers areas may use: medians, row order, validation, a refused bad target
lib_ok() { # explicit checks: set -e does not act inside a tested function
  (
    export BENCH_OUT=$work/lib
    . bench/lib.sh
    bench_init demo || exit 1
    for v in 1 5 3; do bench_sample upd channel_sync 1 "" tps tps "$v" || exit 1; done
    for v in 9 8; do bench_sample upd limit 8 "" tps tps "$v" || exit 1; done
    bench_write || exit 1
    bench_target "a target" "3 tps" ">= 2 tps" yes || exit 1
    bench_target "bad" "x" "y" maybe 2>/dev/null && exit 1
    [ "$(sed -n 2p "$BENCH_TSV")" = "$(printf 'upd\tchannel_sync\t1\t\ttps\ttps\t3\t1\t5\t3')" ] || exit 1
    [ "$(sed -n 3p "$BENCH_TSV")" = "$(printf 'upd\tlimit\t8\t\ttps\ttps\t8.5\t8\t9\t2')" ] || exit 1
    [ "$(wc -l <"$BENCH_TARGETS")" -eq 2 ] || exit 1
    [ "$(bench_median 4 1 3 2)" = 2.5 ] || exit 1
    python3 bench/report.py validate "$BENCH_TSV" "$BENCH_TARGETS" >"$work/lib/validate.out" && exit 1
    grep -q 'only 2 run' "$work/lib/validate.out"
  )
}
check bench_lib_helpers lib_ok

# the harness and every area script parse, and every area script is executable
scripts_ok() {
  bash -n bench/run.sh || return 1
  for f in bench/*/run.sh; do bash -n "$f" && [ -x "$f" ] || return 1; done
}
check bench_scripts_parse scripts_ok
