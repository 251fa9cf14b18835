#!/usr/bin/env bash
# Installs the peers for bench/peers/run.sh: supervisord from Debian (apt) and PM2 from npm
# into $PEERS_HOME (default ~/.cache/drover-peers). Idempotent; prints both versions.
# Debian's package also starts a system-wide supervisord; the benchmark runs its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# `pm2 --version` (the last line of install.sh) spawns a PM2 daemon that stays. Give it a
# home of its own and kill it, so no idle daemon sits beside the benchmark.
PM2_HOME=$(mktemp -d "${TMPDIR:-/tmp}/drover-pm2-version.XXXXXX")
export PM2_HOME
stop_pm2() {
  local pm2=${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/drover-peers}/node_modules/.bin/pm2
  if [[ -x $pm2 ]]; then "$pm2" kill >/dev/null 2>&1 || true; fi
  rm -rf "$PM2_HOME"
}
trap stop_pm2 EXIT
"$root/../shared/peers/install.sh" "$@"
