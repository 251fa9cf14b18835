#!/usr/bin/env bash
# drover, supervisord and PM2 side by side in one run (../shared/peers/peerbench.py).
# Usage: bench/peers/run.sh [-n 50,200,1000] [--kills 50] [--idle 20]
# Installs the peers first if they are missing (supervisord from Debian, PM2 from npm).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
peers=$root/../shared/peers
bash "$peers/install.sh" >&2
export PATH=${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/drover-peers}/node_modules/.bin:$PATH
[[ -x $root/build/shell/drover ]] || "$root/scripts/build.sh" >&2
exec python3 "$peers/peerbench.py" "$peers/targets/supervisord.sh" "$peers/targets/pm2.sh" \
  "$root/bench/peers/drover.sh" --json "$root/bench/peers/last-run.jsonl" "$@"
