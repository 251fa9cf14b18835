#!/usr/bin/env python3
"""A worker-mode worker for drover's job queue, in Python (python3-zmq).

Run it as a pool with jobs = { mode = "worker" } (see examples/jobs_worker.lua); drover
gives it DROVER_JOBS (where to fetch jobs), DROVER_POOL, DROVER_SLOT and
DROVER_JOBS_PREFETCH. It asks for jobs, runs handle(args) for each in the order they
came, and says done (with the return value as the result) or fail (with the exception).
SIGTERM, drover's stop signal, lets the current job finish, then the worker exits: the
jobs it had prefetched go back to the queue unrun.

The protocol is a few JSON messages (jobs/worker_broker.h in drover's source); copy this
file and replace handle().
"""
import json
import os
import signal
import sys
import time

import zmq


def handle(args):
    """The work. Return a value (kept as the job's result) or raise (the job fails)."""
    if args.get("fail"):
        raise RuntimeError(f"asked to fail: {args['fail']}")
    if "sleep" in args:
        time.sleep(float(args["sleep"]))
    return {"echo": args}


def main():
    endpoint = os.environ["DROVER_JOBS"]
    me = {"pool": os.environ["DROVER_POOL"], "slot": int(os.environ["DROVER_SLOT"]), "pid": os.getpid()}
    prefetch = int(os.environ.get("DROVER_JOBS_PREFETCH", "1"))

    stopping = False

    def on_term(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 2000)  # at exit, results still queued get 2 s to leave
    sock.connect(endpoint)
    sock.send_json({**me, "ready": prefetch})
    jobs, cancelled = [], set()
    while not stopping:
        if not jobs:
            if not sock.poll(500):  # wakes now and then to notice SIGTERM
                continue
        while sock.poll(0):
            msg = json.loads(sock.recv())
            if "job" in msg:
                jobs.append(msg["job"])
            elif "cancel" in msg:
                cancelled.add(msg["cancel"])
            elif "error" in msg:
                print(f"drover says: {msg['error']}", file=sys.stderr, flush=True)
        if not jobs:
            continue
        job = jobs.pop(0)
        if job["id"] in cancelled:  # cancelled before it started: skip, ask for another
            cancelled.discard(job["id"])
            sock.send_json({**me, "ready": 1})
            continue
        try:
            result = handle(job["args"])
            sock.send_json({**me, "done": job["id"], "result": json.dumps(result), "ready": 1})
        except Exception as e:  # the job's failure, not the worker's
            sock.send_json({**me, "fail": job["id"], "error": f"{type(e).__name__}: {e}", "ready": 1})
    sock.close()


if __name__ == "__main__":
    main()
