#!/usr/bin/python3
"""A workerpoolmanager-style task, exactly as its own examples talk: every 2 seconds a
2-frame ZeroMQ message [taskname, {"Taskname": ..., "Pid": ...}] to the manager's
keep-alive port (tcp://localhost:5591), and a clean exit 0 on SIGTERM.

It knows nothing about drover: `drover --wpm-config examples/wpm/tasks.json` runs it
unchanged (drover binds 5591 for it, and stalls it if the keep-alives stop).
/usr/bin/python3 is Debian's, which has python3-zmq.
"""
import json
import os
import signal
import sys
import time

import zmq

TASK = "Example"
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.setsockopt(zmq.LINGER, 0)
pub.connect("tcp://localhost:5591")

jobs = 0
next_beat = 0.0
while running:
    now = time.monotonic()
    if now >= next_beat:
        pub.send_multipart([TASK.encode(), json.dumps({"Taskname": TASK, "Pid": os.getpid()}).encode()])
        next_beat = now + 2.0
    jobs += 1
    time.sleep(0.1)  # a unit of work

print(f"ExampleTask: SIGTERM after {jobs} jobs, exiting", flush=True)
pub.close()
ctx.term()
sys.exit(0)
