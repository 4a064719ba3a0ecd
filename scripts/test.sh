#!/usr/bin/env bash
# make test: the one test command. Installs missing deps, builds the extension and the
# pure core, runs the unit tests, installs the extension, starts a throwaway cluster,
# runs pg_regress, the isolation specs, the crash and fuzz checks, stops the cluster
# even on failure and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0
failed=0
log_dir=build/test-logs
mkdir -p "$log_dir"

count() { passed=$((passed + $1)); failed=$((failed + $2)); }
step() { printf '\n== %s\n' "$*"; }
fail_now() { echo "$*" >&2; count 0 1; finish; }
finish() {
  echo
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0 || exit 1
}

step "dependencies"
scripts/deps.sh || fail_now "dependencies missing"

step "build the extension (g++ and the clang bitcode step, -Wall -Wextra)"
make -s -j2 >"$log_dir/build.log" 2>&1 || { cat "$log_dir/build.log"; fail_now "extension build failed"; }
warnings=$(grep -c 'warning:' "$log_dir/build.log" || true)
if [ "$warnings" -eq 0 ]; then echo "build: ok, no warnings"; count 1 0
else grep 'warning:' "$log_dir/build.log" | head -20; echo "build: $warnings warnings"; count 0 1; fi
if make -s check-purity; then count 1 0; else count 0 1; fi
if make -s check-format >/dev/null 2>&1; then echo "check-format: ok (clang-format clean)"; count 1 0
else echo "check-format: FAILED (run make format)"; count 0 1; fi

step "pure C++ core: GoogleTest (ctest)"
if make -s core >"$log_dir/core.log" 2>&1; then
  (cd build/core && ctest --output-on-failure -j2) >"$log_dir/ctest.log" 2>&1
  tail -n 15 "$log_dir/ctest.log"
  total=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log_dir/ctest.log")
  bad=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log_dir/ctest.log")
  if [ -n "$total" ]; then count $((total - bad)) "$bad"; else count 0 1; fi
else
  cat "$log_dir/core.log"; count 0 1
fi

step "install the extension"
# one install at a time on this machine: several work trees share PostgreSQL's lib dir
exec 9>/tmp/channel_sync.install.lock
flock 9
make -s install >"$log_dir/install.log" 2>&1 || { cat "$log_dir/install.log"; fail_now "make install failed (run as root or own the PostgreSQL install dirs)"; }
echo "installed into $(/usr/lib/postgresql/15/bin/pg_config --sharedir)/extension"

cluster=$(mktemp -d /tmp/channel_sync_test.XXXXXX)
port=$((20000 + RANDOM % 20000))
trap 'scripts/cluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
step "throwaway cluster in $cluster (port $port)"
scripts/cluster.sh start "$cluster" "$port" || fail_now "cluster did not start"
eval "$(scripts/cluster.sh env "$cluster" "$port")"

step "pg_regress and isolation specs"
make -s installcheck >"$log_dir/installcheck.log" 2>&1
installcheck_rc=$?
cat "$log_dir/installcheck.log" | grep -E '\.\.\. |tests? (passed|failed)|FAILED|diffs' || cat "$log_dir/installcheck.log"
ok=$(grep -cE '\.\.\. ok' "$log_dir/installcheck.log")
bad=$(grep -cE '\.\.\. FAILED' "$log_dir/installcheck.log")
count "$ok" "$bad"
[ "$ok" -gt 0 ] || { echo "no regression test ran"; count 0 1; }
# pg_regress stops a suite without a FAILED line when, say, an expected file is missing
[ "$installcheck_rc" -eq 0 ] || [ "$bad" -gt 0 ] || { tail -n 5 "$log_dir/installcheck.log"; echo "installcheck exited with $installcheck_rc"; count 0 1; }
for diffs in build/regress/regression.diffs build/isolation/regression.diffs; do
  [ -s "$diffs" ] && { echo "--- $diffs (first 80 lines)"; head -n 80 "$diffs"; }
done

for suite in test/*/run_in_test.sh; do
  [ -x "$suite" ] || continue
  step "$(dirname "$suite")"
  out="$log_dir/$(basename "$(dirname "$suite")").log"
  "$suite" "$cluster" "$port" 2>&1 | tee "$out" | tail -n 25
  ok=$(grep -cE '^ok ' "$out"); bad=$(grep -cE '^not ok ' "$out")
  count "$ok" "$bad"
  [ $((ok + bad)) -gt 0 ] || { echo "$suite reported nothing"; count 0 1; }
done

finish
