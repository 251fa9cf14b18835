#!/bin/sh
# A worker-mode worker in shell: `drover job next` waits for a job and prints "ID ARGS";
# `drover job done|fail ID` records its end. Run by a pool with jobs = { mode = "worker" }.
while job=$(drover job next); do
  id=${job%% *}
  args=${job#* }
  echo "job $id: $args"
  case $args in
    *'"fail"'*) drover job fail "$id" "asked to fail" ;;
    *) drover job done "$id" "ok" ;;
  esac
done
