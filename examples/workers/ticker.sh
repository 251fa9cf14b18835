#!/bin/sh
# A shell worker: prints a line every second, and finishes its "job" on SIGTERM.
# drover gives it DROVER_POOL, DROVER_SLOT and QUEUE.
trap 'echo "$QUEUE worker $DROVER_SLOT: TERM, finishing up"; exit 0' TERM
n=0
while :; do
  n=$((n + 1))
  echo "$QUEUE worker $DROVER_SLOT: tick $n"
  sleep 1 &
  wait $!
done
