#!/usr/bin/env bash
# The dashboard's screenshots, docs/dashboard-*.png (1280x800), from a real drover with a
# few pools, jobs and schedules, in headless chromium (scripts/install-deps.sh --test).
# Usage: scripts/screenshots.sh [DROVER] [OUT_DIR]   (defaults: build/drover, docs/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
drover=${1:-$root/build/drover}
out=${2:-$root/docs}
[[ -x $drover ]] || { echo "screenshots: no drover at $drover (scripts/build.sh)" >&2; exit 1; }
# Debian's python: the one with python3-selenium (a pyenv python3 on PATH has none).
exec /usr/bin/python3 "$root/scripts/screenshots.py" "$drover" "$out"
