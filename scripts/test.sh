#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite. .ci/run calls this.
# Unit tests run in parallel; integration tests (real processes, timing windows) run one
# at a time so that a loaded 2-core machine cannot squeeze their grace-period checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -L unit -j"$(nproc)"
ctest --output-on-failure -LE unit --timeout 120
