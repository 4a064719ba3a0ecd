# Helpers for a bench/<area>/run.sh (bash). Source it:  . "$(dirname "$0")/../lib.sh"
# Optional: an area may write its TSVs any way it likes, as long as they follow bench/README.md.
#
#   bench_init AREA                    check BENCH_OUT, start $BENCH_OUT/AREA-samples.tsv (every repetition);
#                                      sets BENCH_TSV BENCH_TARGETS
#   bench_sample BENCH VARIANT CLIENTS SIZE METRIC UNIT VALUE
#                                      record one measurement (one repetition)
#   bench_write                        $BENCH_OUT/AREA.tsv: median/min/max/runs per benchmark, variant,
#                                      clients, size, metric; rows in the order first recorded
#   bench_target TARGET MEASURED GOAL yes|no    one row of $BENCH_OUT/AREA-targets.tsv
#   bench_pgbench SCRIPT CLIENTS SECONDS [pgbench args...]
#                                      CHECKPOINT, then pgbench -n -M prepared; prints "TPS LATENCY_MS"
#   bench_ms SQL                       wall time in ms of one statement (psql \timing, commit included)
#   bench_median V...                  the median of the numbers given

bench_init() {
  BENCH_AREA=${1:?bench_init AREA}
  : "${BENCH_OUT:?BENCH_OUT is required (see bench/README.md)}"
  mkdir -p "$BENCH_OUT"
  BENCH_TSV=$BENCH_OUT/$BENCH_AREA.tsv
  BENCH_TARGETS=$BENCH_OUT/$BENCH_AREA-targets.tsv
  BENCH_SAMPLES=$BENCH_OUT/$BENCH_AREA-samples.tsv # every repetition, kept for a closer look
  : >"$BENCH_SAMPLES"
  printf 'target\tmeasured\tgoal\tholds\n' >"$BENCH_TARGETS"
  SCALE=${SCALE:-default}
}

bench_sample() {
  [ $# -eq 7 ] || { echo "bench_sample: 7 arguments expected, got $#" >&2; return 1; }
  case "$2" in channel_sync | reference | limit) ;; *) echo "bench_sample: bad variant '$2'" >&2; return 1 ;; esac
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_SAMPLES"
}

bench_write() {
  python3 - "$BENCH_SAMPLES" "$BENCH_TSV" <<'PY'
import statistics, sys
groups = {}
for line in open(sys.argv[1], encoding="utf-8"):
    *key, value = line.rstrip("\n").split("\t")
    groups.setdefault(tuple(key), []).append(float(value))
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("benchmark\tvariant\tclients\tsize\tmetric\tunit\tmedian\tmin\tmax\truns\n")
    for key, vals in groups.items():
        b, v, c, s, m, u = key
        out.write("\t".join([b, v, c, s, m, u] + [f"{x:.6g}" for x in (statistics.median(vals), min(vals), max(vals))]
                            + [str(len(vals))]) + "\n")
PY
}

bench_target() {
  [ $# -eq 4 ] && { [ "$4" = yes ] || [ "$4" = no ]; } || { echo "bench_target: TARGET MEASURED GOAL yes|no" >&2; return 1; }
  printf '%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_TARGETS"
}

bench_pgbench() {
  local script=$1 clients=$2 seconds=$3 jobs out
  shift 3
  jobs=$((clients < 2 ? clients : 2))
  psql -qAtX -c CHECKPOINT >/dev/null || return 1
  out=$(pgbench -n -M prepared -c "$clients" -j "$jobs" -T "$seconds" "$@" -f "$script" 2>&1) \
    || { echo "$out" >&2; return 1; }
  awk '/^tps = / {tps = $3} /^latency average = / {lat = $4}
       END {if (tps == "") exit 1; print tps, (lat == "" ? "nan" : lat)}' <<<"$out" \
    || { echo "$out" >&2; return 1; }
}

bench_ms() {
  local ms
  ms=$(psql -qX -v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 1)
  [ -n "$ms" ] || { echo "bench_ms: no timing for: $1" >&2; return 1; }
  echo "$ms"
}

bench_median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
