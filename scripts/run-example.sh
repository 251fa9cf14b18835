#!/usr/bin/env bash
# Quick start: install what is missing, build, and run drover on the example pools.
# Ctrl-C stops drover and every worker gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/drover examples/pools.lua "$@"
