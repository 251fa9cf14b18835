#!/usr/bin/env python3
"""A Python worker that tells drover it is alive, and what it is doing, over ZeroMQ (pyzmq).

It works on pretend jobs (a sleep each) and reports them as it goes. Run it under drover,
from the repository root:

    drover examples/heartbeats.lua

or give it a pool of its own (paths relative to the config file's directory):

    pool "py" { cmd = "python3 workers/heartbeat_worker.py", n = 2, heartbeat = { timeout = 5 } }

It needs pyzmq for the interpreter that runs it: `apt-get install python3-zmq` installs it
for Debian's /usr/bin/python3 (a pyenv or venv python needs `pip install pyzmq`).

Environment (drover sets the first two):
  DROVER_HEARTBEAT     the engine's socket to connect to; unset: run without heartbeats
  DROVER_POOL          the pool name, sent as the message's first frame (the topic)
  HEARTBEAT_INTERVAL   seconds between heartbeats, may be fractional (default 1)
  JOB_SECONDS          how long one pretend job takes (default 2)
  IDLE_SECONDS         the wait between two jobs (default 1)

The message is two frames: the pool name, then JSON
  {"pid": 1234, "status": "job 7", "busy": true, "progress": 0.4}
sent every HEARTBEAT_INTERVAL and at once whenever a job starts or ends.

SIGTERM (drover's stop signal): the current job is finished, a last heartbeat says so,
and the worker exits 0.
"""
import json
import os
import signal
import sys
import time

try:
    import zmq
except ImportError:
    sys.exit(f"heartbeat_worker.py: no pyzmq for {sys.executable}: "
             "apt-get install python3-zmq (Debian's python3) or pip install pyzmq")

ME = f"heartbeat_worker.py[{os.environ.get('DROVER_SLOT', '?')}]"


def seconds_from_env(name, default):
    """A positive number of seconds; a typo in a pool's env exits 2 rather than hide."""
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (0 < value < float("inf")):
        print(f"{ME}: {name} must be a positive number of seconds, got {raw!r}", file=sys.stderr)
        sys.exit(2)
    return value


class Heartbeat:
    """A PUB socket connected to the engine's SUB.

    A PUB drops what it sends before the engine's subscription has reached it (ZeroMQ's
    "slow joiner"), so the first beat or two may be lost; a worker that keeps sending does
    not care. A one-shot sender must wait for the subscription: see `drover heartbeat`.
    """

    def __init__(self, endpoint, pool):
        self.pool = pool.encode()
        self.sock = None
        if endpoint:
            self.sock = zmq.Context.instance().socket(zmq.PUB)
            self.sock.setsockopt(zmq.LINGER, 1000)  # at exit, a last beat still gets out
            self.sock.connect(endpoint)

    def send(self, busy, status, progress=None):
        if self.sock is None:
            return
        msg = {"pid": os.getpid(), "status": status, "busy": busy}
        if progress is not None:
            msg["progress"] = round(progress, 2)
        self.sock.send_multipart([self.pool, json.dumps(msg).encode()], flags=zmq.NOBLOCK)

    def close(self):
        if self.sock is not None:
            self.sock.close()  # waits for LINGER when the context terminates
            zmq.Context.instance().term()


def main():
    stop = False

    def on_term(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    interval = seconds_from_env("HEARTBEAT_INTERVAL", 1.0)
    job_s = seconds_from_env("JOB_SECONDS", 2.0)
    idle_s = seconds_from_env("IDLE_SECONDS", 1.0)
    hb = Heartbeat(os.environ.get("DROVER_HEARTBEAT", ""), os.environ.get("DROVER_POOL", ""))
    if hb.sock is None:
        print(f"{ME}: DROVER_HEARTBEAT is not set (not under drover?): no heartbeats", flush=True)

    job, busy = 0, False
    now = time.monotonic()
    job_started, phase_end, next_beat = now, now + idle_s, now

    def beat(t):
        nonlocal next_beat
        if busy:
            hb.send(True, f"job {job}", min(1.0, (t - job_started) / job_s))
        else:
            hb.send(False, "idle")
        next_beat = t + interval

    while True:
        now = time.monotonic()
        if now >= phase_end:
            if busy:
                busy = False
                print(f"{ME}: job {job} done", flush=True)
                phase_end = now + idle_s
            elif not stop:
                busy, job, job_started = True, job + 1, now
                phase_end = now + job_s
                print(f"{ME}: job {job} started", flush=True)
            beat(now)  # a change of state is news: say it now, not at the next tick
        if stop and not busy:
            break  # a stop between jobs leaves at once; in a job, after it
        if now >= next_beat:
            beat(now)
        # A signal handler runs during the sleep, which then carries on (PEP 475): a stop is
        # seen at the next wake-up, at most one interval later.
        time.sleep(max(0.0, min(next_beat, phase_end) - time.monotonic()))

    hb.send(False, "stopping")
    print(f"{ME}: TERM, finished {job} jobs, exiting", flush=True)
    hb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
