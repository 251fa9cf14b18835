#!/usr/bin/env bash
# The test suite under sanitizers, in a build directory of its own: AddressSanitizer with
# UndefinedBehaviorSanitizer by default, or ThreadSanitizer with `thread`. Separate from
# .ci/run, which it would push past its time on 2 cores (an ASan build and run take ~2x).
# Usage: scripts/test-sanitized.sh [address,undefined|thread] [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=${1:-address,undefined}
shift || true
build=build-${sanitize//,/-}
scripts/install-deps.sh --test
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDROVER_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j"$(nproc)"
# halt_on_error: a finding fails its test; detect_leaks stays on (drover's exits are clean).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
