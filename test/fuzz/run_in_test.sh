#!/usr/bin/env bash
# make test: builds and runs each libFuzzer target briefly (FUZZ_SECONDS, default 20 s each).
# Arguments (cluster dir, port) are unused: the targets fuzz the pure C++ parsers.
cd "$(dirname "$0")/../.."
exec test/fuzz/run.sh "${FUZZ_SECONDS:-20}"
