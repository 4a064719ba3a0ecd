#!/usr/bin/env bash
# make fuzz: builds every libFuzzer target test/fuzz/fuzz_*.cpp (clang++-14, ASan + UBSan,
# pure C++ core only: the sources listed on the target's "fuzz-sources:" line, linked with the
# libraries on its "fuzz-libs:" line) and runs each
# for SECONDS (default 60). Prints "ok fuzz_<name>" or "not ok fuzz_<name>" per target.
#   test/fuzz/run.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
cxx=${FUZZ_CXX:-clang++-14}
out=build/fuzz
mkdir -p "$out"
status=0
for target in test/fuzz/fuzz_*.cpp; do
  [ -e "$target" ] || continue
  name=$(basename "$target" .cpp)
  sources=$(sed -n 's|^// fuzz-sources:||p' "$target")
  libs=$(sed -n 's|^// fuzz-libs:||p' "$target")
  if ! $cxx -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Isrc "$target" $sources $libs -o "$out/$name" >"$out/$name.build.log" 2>&1; then
    cat "$out/$name.build.log" | head -30
    echo "not ok $name (build failed)"
    status=1
    continue
  fi
  corpus="$out/corpus_$name"
  mkdir -p "$corpus"
  seeds=test/fuzz/corpus/$name
  [ -d "$seeds" ] || seeds=
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$out/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=8192 \
      -artifact_prefix="$out/$name-" "$corpus" $seeds >"$out/$name.log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1)
    echo "ok $name (${runs:-done} in ${seconds}s)"
  else
    tail -n 30 "$out/$name.log"
    echo "not ok $name (crash: see $out/$name.log and $out/$name-*)"
    status=1
  fi
done
exit $status
