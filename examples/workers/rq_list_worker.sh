#!/bin/sh
# A worker of the simplest Redis job queue there is: it takes one job at a time off the
# list rq:queue:$QUEUE (the key rq itself uses) and "works" on it for a second. Enough to
# watch examples/autoscale.lua size its pool by the list's length. Needs redis-cli.
# REDIS_PORT picks the server (default 6379).
port=${REDIS_PORT:-6379}
queue=${QUEUE:-default}
while :; do
  # BLPOP waits up to 5 s for a job; an empty answer (or Redis down) just loops.
  job=$(redis-cli -p "$port" --raw BLPOP "rq:queue:$queue" 5 2>/dev/null | tail -n 1)
  if [ -n "$job" ]; then
    echo "working on $job"
    sleep 1
  else
    sleep 1
  fi
done
