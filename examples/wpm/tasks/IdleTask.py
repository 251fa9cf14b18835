#!/usr/bin/python3
"""A second task file: discovered from `path` + `filesuffix` but not in `autotasks`, so
it is defined stopped until `start "Idle"` (in the shell) brings it up, as in
workerpoolmanager. It sends no keep-alives: with the JSON's stall_timeout it would be
stalled and replaced; it exists to show discovery."""
import signal
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    time.sleep(1)
