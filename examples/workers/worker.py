#!/usr/bin/env python3
"""A Python worker: takes pretend jobs from its queue, exits cleanly on SIGTERM."""
import os, random, signal, sys, time

queue, slot = os.environ.get("QUEUE", "?"), os.environ.get("DROVER_SLOT", "?")
running = True

def on_term(signum, frame):
    global running
    running = False

signal.signal(signal.SIGTERM, on_term)
job = 0
while running:
    job += 1
    print(f"{queue}[{slot}] job {job} started", flush=True)
    time.sleep(random.uniform(0.5, 2.0))
    if random.random() < 0.05:
        print(f"{queue}[{slot}] job {job} failed, crashing", file=sys.stderr, flush=True)
        sys.exit(1)
print(f"{queue}[{slot}] stopping after {job} jobs", flush=True)
