#!/bin/sh
# heartbeat_worker.sh: a shell worker that tells drover it is alive, and what it is doing,
# with `drover heartbeat` (one keep-alive per call). It works on pretend jobs (a sleep
# each) and reports them as it goes. Run it under drover, from the repository root after
# scripts/build.sh:
#
#     drover examples/heartbeats.lua
#
# or give it a pool of its own (paths relative to the config file's directory):
#
#     pool "sh" { cmd = "workers/heartbeat_worker.sh", heartbeat = { timeout = 5 },
#                 env = { DROVER_BIN = "../build/drover" } }
#
# Environment (drover sets DROVER_HEARTBEAT, DROVER_POOL and DROVER_SLOT; `drover heartbeat`
# reads the first two itself):
#   DROVER_BIN           the drover binary; default: `drover` on PATH
#   HEARTBEAT_INTERVAL   seconds between heartbeats, may be fractional (default 1)
#   JOB_SECONDS          how long one pretend job takes (default 2)
#   IDLE_SECONDS         the wait between two jobs (default 1)
# Fractional seconds need a sleep(1) that takes them (GNU coreutils and busybox do).
#
# `drover heartbeat` sends the pid of its parent, this script: run it from the script's own
# shell (a function is fine, a subshell too), and the engine matches it to this worker.
#
# SIGTERM (drover's stop signal): the current job is finished, a last heartbeat says so,
# and the worker exits 0.

me="heartbeat_worker.sh[${DROVER_SLOT:-?}]"

# A positive number of seconds, else exit 2: a typo in a pool's env should be loud.
seconds() {
  if ! awk -v x="$2" 'BEGIN { exit !(x ~ /^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ && x + 0 > 0) }'; then
    echo "$me: $1 must be a positive number of seconds, got '$2'" >&2
    exit 2
  fi
  echo "$2"
}
interval=$(seconds HEARTBEAT_INTERVAL "${HEARTBEAT_INTERVAL:-1}") || exit 2
job_s=$(seconds JOB_SECONDS "${JOB_SECONDS:-2}") || exit 2
idle_s=$(seconds IDLE_SECONDS "${IDLE_SECONDS:-1}") || exit 2

drover=${DROVER_BIN:-$(command -v drover)}
beats=yes
if [ -z "${DROVER_HEARTBEAT:-}" ]; then
  echo "$me: DROVER_HEARTBEAT is not set (not under drover?): no heartbeats"
  beats=no
elif [ -z "$drover" ]; then
  echo "$me: no drover binary (set DROVER_BIN, or put drover on PATH): no heartbeats" >&2
  beats=no
fi

# beat busy|idle STATUS [PROGRESS]
beat() {
  [ "$beats" = yes ] || return 0
  if [ $# -ge 3 ]; then
    "$drover" heartbeat "--$1" --status "$2" --progress "$3"
  else
    "$drover" heartbeat "--$1" --status "$2"
  fi || echo "$me: heartbeat not sent" >&2
}

# Sleeps in the background so that SIGTERM's trap runs at once rather than after the sleep.
nap() {
  sleep "$1" &
  wait $!
}

# A phase of S seconds as N naps of at most one interval each, with a heartbeat per nap.
ticks() { awk -v s="$1" -v i="$interval" 'BEGIN { n = int(s / i); if (n * i < s) n++; if (n < 1) n = 1; print n }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
job_ticks=$(ticks "$job_s")
job_nap=$(div "$job_s" "$job_ticks")
idle_ticks=$(ticks "$idle_s")
idle_nap=$(div "$idle_s" "$idle_ticks")

stop=0
trap 'stop=1' TERM
job=0
while [ "$stop" = 0 ]; do
  job=$((job + 1))
  echo "$me: job $job started"
  i=0
  while [ "$i" -lt "$job_ticks" ]; do  # a stop in a job lets the job finish
    beat busy "job $job" "$(div "$i" "$job_ticks")"
    nap "$job_nap"
    i=$((i + 1))
  done
  echo "$me: job $job done"
  i=0
  while [ "$i" -lt "$idle_ticks" ] && [ "$stop" = 0 ]; do  # a stop between jobs leaves at once
    beat idle idle
    nap "$idle_nap"
    i=$((i + 1))
  done
done
beat idle stopping
echo "$me: TERM, finished $job jobs, exiting"
exit 0
