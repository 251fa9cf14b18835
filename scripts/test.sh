#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite. .ci/run calls this.
# tests/CMakeLists.txt declares what may run side by side (unit tests) and what runs alone
# (integration and repl: real processes and grace periods), so any ctest invocation is safe.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -L unit -j"$(nproc)" --output-log ctest-unit.log
ctest --output-on-failure -LE unit -j"$(nproc)" --output-log ctest-slow.log
# A test name that doctest's filter splits (',' or ';') would run nothing and "pass".
if grep -E "test cases: *0 \|" ctest-unit.log ctest-slow.log; then
  echo "error: a ctest entry ran no doctest case (a ',' or ';' in a TEST_CASE name?)" >&2
  exit 1
fi
