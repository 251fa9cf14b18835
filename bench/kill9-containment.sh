#!/usr/bin/env bash
# kill -9 of drover at random moments of a bring-up (0 -> N) and of a resize (100 -> N),
# each worker with a child that called setsid and a double-forked daemon (fake_worker
# escape), under each containment mode; after every kill, counts what is left of any
# worker tree in /proc (live processes whose environment names the try's pool).
#
#   bench/kill9-containment.sh [TRIES=20] [N=1000] [MODES="cgroup subreaper"]   (PHASES="resize" for one)
#
# Prints one line per try and a summary per mode and phase. Needs a build (BUILD_DIR).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
drover=$build/drover
worker=$(readlink -f "$build/tests/fake_worker")
tries=${1:-20}
n=${2:-1000}
modes=${3:-cgroup subreaper}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

survivors() {  # live (not zombie: PID 1 may not reap) processes with DROVER_POOL=$1
  local count=0 f pid state
  for f in $(grep -lzx "DROVER_POOL=$1" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${f#/proc/}; pid=${pid%/environ}
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] && count=$((count + 1))
  done
  echo "$count"
}

phases=${PHASES:-bring-up resize}
for mode in $modes; do
  for phase in $phases; do
    bad=0 total=0 worst=0
    for try in $(seq 1 "$tries"); do
      pool="k9-$mode-$phase-$try-$$"
      start=$([ "$phase" = resize ] && echo 100 || echo "$n")
      printf 'pool "%s" { cmd = { "%s", "escape" }, n = %d }\n' "$pool" "$worker" "$start" > "$tmp/pools.lua"
      port=$((20000 + RANDOM % 20000))
      "$drover" "$tmp/pools.lua" --no-shell --contain "$mode" --http "127.0.0.1:$port" 2> "$tmp/err" &
      d=$!
      if [ "$phase" = resize ]; then
        # Wait for the 100 (each worker: itself, its setsid'd child, its daemon), then resize.
        for _ in $(seq 1 300); do [ "$(survivors "$pool")" -ge 300 ] && break; sleep 0.05; done
        curl -s -X PATCH -H 'Content-Type: application/json' -d "{\"$pool\": $n}" "127.0.0.1:$port/api/v1/config" > /dev/null
      fi
      # bring-up: 50-300 ms after start (drover's first spawn wake-up of 1000 lasts longer);
      # resize: 5-60 ms after the PATCH (the engine spawns 900 in about that).
      if [ "$phase" = resize ]; then
        delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.005 + (r % 55) / 1000 }')
      else
        delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 250) / 1000 }')
      fi
      sleep "$delay"
      kill -9 "$d"
      wait "$d" 2> /dev/null
      # Workers the engine had logged as spawned (logged once per wake-up: 0 = still in
      # the first wake-up of a bring-up).
      before=$(grep -c " spawned pid " "$tmp/err")
      left=0
      for _ in $(seq 1 50); do left=$(survivors "$pool"); [ "$left" -eq 0 ] && break; sleep 0.1; done
      total=$((total + 1))
      [ "$left" -gt 0 ] && bad=$((bad + 1))
      [ "$left" -gt "$worst" ] && worst=$left
      echo "$mode $phase try $try: killed ${delay}s in, $before workers spawned; processes left: $left"
      # Clean up by pid whatever a failed try left, so the next try starts clean.
      for f in $(grep -lzx "DROVER_POOL=$pool" /proc/[0-9]*/environ 2>/dev/null); do
        pid=${f#/proc/}; kill -9 "${pid%/environ}" 2> /dev/null
      done
    done
    echo "== $mode $phase: $bad of $total tries left processes (worst: $worst)"
  done
done
