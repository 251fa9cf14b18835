#!/usr/bin/env bash
# Prints a curl transcript of drover's HTTP routes against a real drover: every
# workerpoolmanager route as text and as JSON, then the JSON API. Each command is shown
# with `$` and followed by what it printed (timestamps, pids and ports vary by run).
#   scripts/http-transcript.sh > bench/http-transcript.md   (after scripts/build.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${DROVER_BIN:-$root/build/drover}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
cat >"$dir/pools.lua" <<'CONF'
pool "web"  { cmd = { "/bin/sleep", "3600" }, n = 2 }
pool "mail" { cmd = { "/bin/sleep", "3600" }, n = 1 }
CONF
"$bin" "$dir/pools.lua" --no-shell -q --http 127.0.0.1:0 2>"$dir/err" &
pid=$!
for _ in $(seq 500); do grep -q "serving http" "$dir/err" && break; sleep 0.01; done
base=$(sed -n 's|^drover: serving \(http://[^/]*\)/.*|\1|p' "$dir/err")
sleep 0.3  # the workers up
B=${base#http://}
J='Content-Type: application/json'
A='Accept: application/json'
show() {  # the command as typed (with $B, single quotes where needed), then its output
  local line="" a
  for a in "$@"; do
    a=${a//$B/\$B}
    if [[ $a =~ [[:space:]\{\"] ]]; then a="'$a'"; elif [[ $a =~ [\?\&] ]]; then a="\"$a\""; fi
    line+="${line:+ }$a"
  done
  printf '\n    $ %s\n' "$line"
  "$@" 2>&1 | head -c 1500 | sed 's/^/    /'
  echo
}
echo "# HTTP transcript"
echo
echo "Made by scripts/http-transcript.sh against drover $("$bin" --version 2>&1 | head -1), pools web (2) and mail (1) of /bin/sleep; \`B\` is its address."
echo
echo "## workerpoolmanager's routes, text"
show curl -s "$B/tasks"
show curl -s "$B/tasks/web"
show curl -s "$B/list"
show curl -s -X POST "$B/tasks/web/set/cardinality/3"
show curl -s -X DELETE "$B/tasks/mail"
show curl -s -X POST "$B/tasks/mail/start"
show curl -s -X DELETE "$B/tasks/nope"
show curl -s "$B/tasks/web/list"
show curl -s "$B/tasks/"
echo "## workerpoolmanager's routes, JSON"
show curl -s -H "$A" "$B/tasks"
show curl -s -H "$A" "$B/tasks/web"
show curl -s -H "$A" "$B/list"
show curl -s -H "$A" -X POST "$B/tasks/web/set/cardinality/2"
show curl -s -H "$A" -X DELETE "$B/tasks/mail"
show curl -s -H "$A" -X POST "$B/tasks/mail/start"
show curl -s -H "$A" -X POST "$B/tasks/web/set/cardinality/many"
show curl -s -H "$A" "$B/tasks/web/list"
echo "## The JSON API"
show curl -s "$B/api/v1/pools/mail"
show curl -s -H "$J" -d '{"name": "jobs", "cmd": "/bin/sleep 3600", "n": 1}' "$B/api/v1/pools"
show curl -s -X PATCH -H "$J" -d '{"n": 2}' "$B/api/v1/pools/jobs"
show curl -s -X PATCH -H "$J" -d '{"n": -1}' "$B/api/v1/pools/jobs"
show curl -s -H "$J" -d '{"signal": "CONT"}' "$B/api/v1/pools/jobs/workers/0/signal"
show curl -s -X PATCH -H "$J" -d '{"jobs": 1}' "$B/api/v1/config"
show curl -s -X DELETE "$B/api/v1/pools/jobs"
show curl -s "$B/api/v1/log?n=5"
show curl -s "$B/api/v1/autoscale"
show curl -s -X PUT "$B/api/v1/pools"
show curl -s -H "$J" -d '{"name": ' "$B/api/v1/pools"
show curl -s "$B/healthz"
(sleep 0.5; curl -s -X POST "$B/tasks/web/set/cardinality/3" >/dev/null) &
show curl -s -m 2 -N "$B/api/v1/events"
