#!/usr/bin/env bash
# Installs the Debian 12 packages channel_sync needs, or says exactly which are missing.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-contrib  # server, PGXS, pg_regress, pg_isolation_regress
  g++ make cmake clang-14 llvm-14 clang-format               # core build, PGXS bitcode step, formatter
  libboost-dev libgtest-dev                                  # Boost.Container, GoogleTest
  libxxhash-dev                                              # XXH3-128 event fingerprints
  libpq-dev libpqxx-dev                                      # connector example, load tools
  libcurl4-openssl-dev nlohmann-json3-dev                    # connector example's HTTP sink
  libclang-rt-14-dev                                         # libFuzzer + sanitizers
  gnuplot-nox                                                # benchmark charts
  python3 python3-psycopg2 procps                            # test drivers (crash, soak), ps/kill
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages; install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed"
