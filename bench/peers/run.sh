#!/usr/bin/env bash
# drover, supervisord and PM2 side by side in one run of ../shared/peers/peerbench.py.
# Usage: [N=50,200,1000] [DROVER_BIN=...] bench/peers/run.sh [--kills K] [--idle S] [-n LIST]
# Prints one markdown table per N on stdout and writes this run's JSON lines to
# bench/peers/last-run.jsonl (replaced on each run). Installs the peers if they are
# missing and builds drover if there is no binary; their output goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
peers=$root/../shared/peers
json=$root/bench/peers/last-run.jsonl
"$root/bench/peers/install-peers.sh" >&2
export DROVER_BIN=${DROVER_BIN:-$root/build/drover}
[[ -x $DROVER_BIN ]] || "$root/scripts/build.sh" >&2
[[ -x $DROVER_BIN ]] || { echo "run.sh: no drover binary at $DROVER_BIN" >&2; exit 1; }
: >"$json"  # peerbench appends
exec python3 "$peers/peerbench.py" "$peers/targets/supervisord.sh" "$peers/targets/pm2.sh" \
  "$root/bench/peers/drover.sh" -n "${N:-50,200,1000}" --json "$json" "$@"
