#!/usr/bin/env bash
# Adapter for ../shared/peers/peerbench.py: drover with one pool of N `/bin/sleep MARKER`.
# Verbs: start N MARKER DIR | resize N DIR | status DIR | stop DIR. `start` prints the master pid.
# Needs DROVER_BIN (default: build/drover of this repository).
# Resize goes through drover's own interface: rewrite the config and send SIGHUP (a live
# reload: workers that stay are never touched).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DROVER_BIN=${DROVER_BIN:-$here/../../build/drover}
verb=$1; shift
conf() { # N MARKER DIR
  # As the peers' adapters do (supervisord startsecs=0/startretries=1000, PM2 min_uptime 0,
  # restart_delay 0, max_restarts 100000): no crash-loop protection, since the harness
  # kills young workers on purpose. reset_after = 0 makes every exit "healthy"; a large
  # max_exits keeps a repeatedly killed slot out of `flapping`.
  # Written aside and renamed, so drover never reads a half-written file.
  cat >"$3/pools.lua.tmp" <<CONF
pool "w" {
  cmd = { "/bin/sleep", "$2" }, n = $1, grace = 2,
  backoff = { reset_after = 0 }, flap = { max_exits = 100000 },
}
CONF
  mv -f "$3/pools.lua.tmp" "$3/pools.lua"
  echo "$2" >"$3/marker"
}
master() { # DIR: drover's pid file while it runs, else the pid `start` launched
  cat "$1/drover.pid" 2>/dev/null || cat "$1/master.pid"
}
case $verb in
  start)
    conf "$1" "$2" "$3"
    # In a non-interactive shell the job is no group leader, so setsid execs in place: $! is drover.
    setsid "$DROVER_BIN" "$3/pools.lua" --no-shell -q --log "$3/drover.log" --pid-file "$3/drover.pid" \
      --http 127.0.0.1:0 </dev/null >"$3/drover.out" 2>&1 &
    echo $! >"$3/master.pid"
    # Fail here, with drover's own words, rather than have the harness wait for workers.
    for _ in $(seq 1000); do
      [[ -s $3/drover.pid ]] && break
      kill -0 $! 2>/dev/null || { echo "drover exited at start:" >&2; cat "$3/drover.out" >&2; exit 1; }
      sleep 0.005
    done
    # The HTTP port it picked, for `status`.
    for _ in $(seq 1000); do
      url=$(sed -n 's|^drover: serving \(http://.*\)$|\1|p' "$3/drover.out")
      [[ -n $url ]] && break
      sleep 0.005
    done
    echo "$url" >"$3/status_url"
    master "$3" ;;
  resize)
    conf "$1" "$(cat "$2/marker")" "$2"
    kill -HUP "$(master "$2")" ;;
  status)
    # A status query from the command line, as `supervisorctl status` and `pm2 jlist` are:
    # drover's own shell attached to the running drover, printing status().
    url=$(cat "$1/status_url")
    hostport=${url#http://}
    "$DROVER_BIN" attach "${hostport%/}" -e 'status()' >/dev/null ;;
  stop)
    pid=$(master "$1")
    kill -TERM "$pid" 2>/dev/null || exit 0  # already gone
    # Done once drover has exited; it may linger as a zombie until init reaps it (the
    # adapter that started it is long gone), which is init's time, not drover's.
    deadline=$((${EPOCHREALTIME/./} + 30000000))
    while ((${EPOCHREALTIME/./} < deadline)); do
      read -r stat 2>/dev/null <"/proc/$pid/stat" || exit 0
      state=${stat##*) }
      [[ ${state%% *} == Z ]] && exit 0
      sleep 0.005
    done
    echo "drover did not stop in 30 s" >&2; exit 1 ;;
  *) echo "unknown verb $verb" >&2; exit 2 ;;
esac
