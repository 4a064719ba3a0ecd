#!/usr/bin/env bash
# scripts/stitch_sql.sh VERSION PART.sql...: the install script of VERSION, on stdout.
# A part whose first line is "-- since: X.Y.Z" belongs to that version and later ones only;
# every other part is in every version. The parts are concatenated in the order given.
set -euo pipefail
version=${1:?usage: stitch_sql.sh VERSION PART.sql...}
shift
echo "-- channel_sync $version, generated from src/*/*.sql by the Makefile; edit those files instead"
for f in "$@"; do
  since=$(sed -n '1s/^-- since: *\([0-9][0-9.]*\) *$/\1/p' "$f")
  if [ -n "$since" ] && [ "$(printf '%s\n%s\n' "$since" "$version" | sort -V | tail -n1)" != "$version" ]; then
    continue  # introduced after $version
  fi
  echo
  echo "-- ==== $f"
  cat "$f"
done
