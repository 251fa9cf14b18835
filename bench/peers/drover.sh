#!/usr/bin/env bash
# Adapter for ../shared/peers/peerbench.py: drover with one pool of N `/bin/sleep MARKER`.
# Verbs: start N MARKER DIR | resize N DIR | status DIR | stop DIR. `start` prints the master pid.
# Resize goes through drover's own interface: rewrite the config and send SIGHUP (a live
# reload: workers that stay are never touched).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DROVER_BIN=${DROVER_BIN:-$here/../../build/shell/drover}
verb=$1; shift
conf() { # N MARKER DIR
  # As the peers' adapters do (supervisord startsecs=0/startretries=1000, PM2 min_uptime 0,
  # restart_delay 0, max_restarts 100000): no crash-loop protection, since the harness
  # kills young workers on purpose. reset_after = 0 makes every exit "healthy"; a large
  # max_exits keeps a repeatedly killed slot out of `flapping`.
  cat >"$3/pools.lua" <<CONF
pool "w" {
  cmd = { "/bin/sleep", "$2" }, n = $1, grace = 2,
  backoff = { reset_after = 0 }, flap = { max_exits = 100000 },
}
CONF
  echo "$2" >"$3/marker"
}
case $verb in
  start)
    conf "$1" "$2" "$3"
    setsid "$DROVER_BIN" "$3/pools.lua" --no-shell -q --log "$3/drover.log" --pid-file "$3/drover.pid" \
      </dev/null >"$3/drover.out" 2>&1 &
    echo $! ;;
  resize)
    conf "$1" "$(cat "$2/marker")" "$2"
    kill -HUP "$(cat "$2/drover.pid")" ;;
  status)
    # TODO(control-plane issue): drover has no out-of-process status query yet (HTTP and
    # `drover attach` come with issue 6). This only checks the master is alive, so the
    # status column for drover is not comparable and RESULTS.md reports it as n/a.
    kill -0 "$(cat "$1/drover.pid")" ;;
  stop)
    pid=$(cat "$1/drover.pid")
    kill -TERM "$pid"
    # Done once drover has exited; it may linger as a zombie until init reaps it (the
    # adapter that started it is long gone), which is init's time, not drover's.
    for _ in $(seq 6000); do
      state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || exit 0
      [[ $state == Z ]] && exit 0
      sleep 0.005
    done
    echo "drover did not stop in 30 s" >&2; exit 1 ;;
  *) echo "unknown verb $verb" >&2; exit 2 ;;
esac
