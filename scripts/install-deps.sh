#!/usr/bin/env bash
# Installs what drover needs to build and test on Debian 12, and nothing else.
# Idempotent: packages already present are skipped, so a warm machine pays ~1 s.
# Usage: ./install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config
            liblua5.4-dev libzmq3-dev cppzmq-dev libfmt-dev doctest-dev
            nlohmann-json3-dev libcpp-httplib-dev libmicrohttpd-dev libhiredis-dev libyaml-cpp-dev libreadline-dev
            libcurl4-openssl-dev libcli11-dev libsqlite3-dev libhowardhinnant-date-dev libpq-dev)
# Real queue workers nobody here wrote: rq and Celery (Debian's, run by /usr/bin/python3).
# curl plays workerpoolmanager's console's curl sessions; man-db renders the installed man page.
# postgresql: the server the PostgreSQL job store's tests start (initdb, postgres 15).
# chromium, chromium-driver, python3-selenium: the dashboard's tests (tests/browser) drive a
# real headless browser against a real drover; also scripts/screenshots.sh and bench/dashboard_bench.py.
test_pkgs=(redis-server python3 python3-zmq python3-prometheus-client tmux procps
           python3-rq python3-celery python3-redis curl man-db postgresql
           chromium chromium-driver python3-selenium)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
