#!/usr/bin/python3
"""The Python example worker (examples/workers/job_worker.py) with a handle() that notes
each run: the job's args "i" appended as a line to $RUNS_FILE before it reports done, so a
test counts how often each job ran (tests/integration/job_crash_test.cpp)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "workers"))
import job_worker  # noqa: E402

runs = open(os.environ["RUNS_FILE"], "a", buffering=1)  # one write(2) per line, O_APPEND


def handle(args):
    runs.write(f"{args['i']}\n")
    return None


job_worker.handle = handle
job_worker.main()
