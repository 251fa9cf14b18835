#!/usr/bin/python3
"""No-op job throughput of drover's queue peers (RQ and Celery) on this machine.

    bench/queue_peers_bench.py [JOBS=20000] [CONCURRENCY=2]

Starts its own redis-server (free port, temp dir, no persistence), then for each peer,
with the same job count and concurrency:

  rq      JOBS no-op jobs enqueued up front (enqueue_many in pipelined batches, timed
          separately), then CONCURRENCY `rq worker --burst` processes; timed from their
          start until all have exited, and checked: queue empty, JOBS in the finished
          registry, none failed. Once with the default Worker (forks a work horse per job,
          what users run) and once with SimpleWorker (runs jobs in the worker process).
  celery  JOBS tasks published up front with no worker running (timed separately), then
          one `celery worker -P prefork --concurrency CONCURRENCY`; timed from its start
          until a Redis counter the task INCRs reaches JOBS (the only work the task does;
          ignore_result, no result backend), and checked: the "celery" list is empty.

Both timings include worker start-up (interpreter and imports, well under a second).
Workers log at WARNING into the temp dir; a failing phase prints the tail of its log.
Each phase has a timeout (PHASE_TIMEOUT seconds, default 600) after which it prints a
FAILED line and goes on; the exit status is then 1. RQ_FORK_JOBS caps the job count for
rq's default Worker (default: JOBS; set it lower if fork-per-job would take too long --
on a 2-CPU machine 20000 jobs take about 1.5 minutes).

Needs Debian's python3-rq, python3-celery, python3-redis and redis-server; run it with
/usr/bin/python3 (it re-executes itself with that if another interpreter lacks them).
"""

import os
import sys

DEBIAN_PYTHON = "/usr/bin/python3"

try:
    import redis
    import rq
    import celery
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
    raise

import shutil
import signal
import socket
import subprocess
import tempfile
import time

from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

PHASE_TIMEOUT = float(os.environ.get("PHASE_TIMEOUT", "600"))
ENQUEUE_BATCH = 1000
STOP_GRACE_S = 10.0

children = []  # every Popen this script started, each in its own session


def say(line=""):
    print(line, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv, log_path, env=None, cwd=None):
    log = open(log_path, "ab")
    try:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             env=env, cwd=cwd, start_new_session=True)
    finally:
        log.close()
    children.append(p)
    return p


def signal_group(p, sig):
    """Signal the session/group this script started p in (p is its leader)."""
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(p, grace=STOP_GRACE_S):
    """SIGTERM p, SIGKILL its process group if it is still there after `grace` seconds."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # Whatever of its group is left (e.g. prefork children) goes too.
    signal_group(p, signal.SIGKILL)
    if p.poll() is None:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


def say_tail(path, n=15):
    """Print the last n lines of a worker's log, if it has any."""
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return
    for l in lines[-n:]:
        say("    | " + l)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


# ---------------------------------------------------------------- redis-server

def start_redis(tmp):
    port = free_port()
    rdir = os.path.join(tmp, "redis")
    os.mkdir(rdir)
    p = spawn(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
               "--dir", rdir, "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--loglevel", "warning"],
              os.path.join(tmp, "redis.log"))
    r = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 15
    while True:
        if p.poll() is not None:
            say_tail(os.path.join(tmp, "redis.log"))
            raise RuntimeError("redis-server exited with %s" % p.returncode)
        try:
            if r.ping():
                return p, port, r
        except redis.exceptions.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not answer PING within 15 s")
        time.sleep(0.05)


def stop_redis(p, r):
    if p.poll() is None:
        try:
            r.shutdown(nosave=True)
        except Exception:
            pass  # the connection drops when it goes down
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    stop(p, grace=5)


# ---------------------------------------------------------------- rq

RQ_MODULE = '''\
def noop():
    pass
'''


def bench_rq(label, worker_class, jobs, concurrency, r, url, tmp, env):
    r.flushall()
    q = Queue("default", connection=r)

    t0 = time.monotonic()
    for start in range(0, jobs, ENQUEUE_BATCH):
        n = min(ENQUEUE_BATCH, jobs - start)
        with r.pipeline() as pipe:
            q.enqueue_many([Queue.prepare_data("benchjobs.noop") for _ in range(n)], pipeline=pipe)
            pipe.execute()
    enqueue_s = time.monotonic() - t0
    if q.count != jobs:
        say("%s: FAILED - %d of %d jobs in the queue after enqueue" % (label, q.count, jobs))
        return False

    log = os.path.join(tmp, "rq-%s.log" % worker_class.rsplit(".", 1)[-1])
    argv = [DEBIAN_PYTHON, "-m", "rq.cli", "worker", "--burst", "-u", url,
            "-w", worker_class, "--logging_level", "WARNING", "--disable-job-desc-logging",
            "default"]
    t0 = time.monotonic()
    workers = [spawn(argv + ["-n", "bench-%d-%d" % (os.getpid(), i)], log, env=env, cwd=tmp)
               for i in range(concurrency)]
    deadline = t0 + PHASE_TIMEOUT
    while any(w.poll() is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    run_s = time.monotonic() - t0
    timed_out = any(w.poll() is None for w in workers)
    if timed_out:
        finished, queued = FinishedJobRegistry(queue=q).count, q.count
        for w in workers:
            stop(w)
        say("%s, %d no-op jobs, %d workers: FAILED - timeout after %.0f s (%d finished, %d queued)"
            % (label, jobs, concurrency, PHASE_TIMEOUT, finished, queued))
        say_tail(log)
        return False

    finished = FinishedJobRegistry(queue=q).count
    failed = FailedJobRegistry(queue=q).count
    started = StartedJobRegistry(queue=q).count
    queued = q.count
    bad_exit = [w.returncode for w in workers if w.returncode != 0]
    if finished != jobs or failed or queued or started or bad_exit:
        say("%s, %d no-op jobs, %d workers: FAILED - %d finished, %d failed, %d queued, %d started, worker exit codes %s"
            % (label, jobs, concurrency, finished, failed, queued, started, [w.returncode for w in workers]))
        say_tail(log)
        return False
    say("%s, %d no-op jobs, %d workers: %.0f jobs/s (%.1f s; enqueue %.1f s)"
        % (label, jobs, concurrency, jobs / run_s, run_s, enqueue_s))
    return True


# ---------------------------------------------------------------- celery

CELERY_MODULE = '''\
import redis
from celery import Celery

BROKER = %(url)r
COUNTER = "bench:celery:done"

app = Celery("benchtasks", broker=BROKER)
app.conf.update(
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=True,
    broker_connection_retry_on_startup=True,
)

_r = None


@app.task(ignore_result=True)
def noop():
    # The only work: count completions, so the benchmark knows when all have run.
    global _r
    if _r is None:
        _r = redis.Redis.from_url(BROKER)
    _r.incr(COUNTER)
'''


def bench_celery(jobs, concurrency, r, url, tmp, env):
    label = "celery (prefork, redis broker)"
    r.flushall()
    if tmp not in sys.path:
        sys.path.insert(0, tmp)
    import benchtasks

    t0 = time.monotonic()
    with benchtasks.app.producer_or_acquire() as producer:
        for _ in range(jobs):
            benchtasks.noop.apply_async(producer=producer)
    publish_s = time.monotonic() - t0
    queued = r.llen("celery")
    if queued != jobs:
        say("%s: FAILED - %d of %d tasks in the 'celery' list after publish" % (label, queued, jobs))
        return False

    log = os.path.join(tmp, "celery.log")
    argv = [DEBIAN_PYTHON, "-m", "celery", "-A", "benchtasks", "worker",
            "--concurrency", str(concurrency), "-P", "prefork", "--loglevel=WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-O", "fair",
            "-n", "bench-%d@%%h" % os.getpid()]
    t0 = time.monotonic()
    worker = spawn(argv, log, env=env, cwd=tmp)
    deadline = t0 + PHASE_TIMEOUT
    done = 0
    died = False
    try:
        while time.monotonic() < deadline:
            done = int(r.get(benchtasks.COUNTER) or 0)
            if done >= jobs:
                break
            if worker.poll() is not None:
                died = True
                break
            time.sleep(0.02)
        run_s = time.monotonic() - t0
        left = r.llen("celery")
    finally:
        stop(worker)

    if died:
        say("%s, %d no-op jobs, concurrency %d: FAILED - worker exited with %s after %d done"
            % (label, jobs, concurrency, worker.returncode, done))
        say_tail(log)
        return False
    if done < jobs:
        say("%s, %d no-op jobs, concurrency %d: FAILED - timeout after %.0f s (%d done, %d queued)"
            % (label, jobs, concurrency, PHASE_TIMEOUT, done, left))
        say_tail(log)
        return False
    if done != jobs or left:
        say("%s, %d no-op jobs, concurrency %d: FAILED - counter %d, %d left in the queue"
            % (label, jobs, concurrency, done, left))
        say_tail(log)
        return False
    say("%s, %d no-op jobs, concurrency %d: %.0f jobs/s (%.1f s; publish %.1f s)"
        % (label, jobs, concurrency, jobs / run_s, run_s, publish_s))
    return True


# ---------------------------------------------------------------- main

def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def main():
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args) or len(args) > 2:
        say(__doc__.strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    jobs = int(args[0]) if len(args) > 0 else 20000
    concurrency = int(args[1]) if len(args) > 1 else 2
    if jobs < 1 or concurrency < 1:
        say("JOBS and CONCURRENCY must be positive")
        return 2
    rq_fork_jobs = min(jobs, int(os.environ.get("RQ_FORK_JOBS", jobs)))

    signal.signal(signal.SIGTERM, on_sigterm)

    say("# queue peers, no-op jobs: %d CPUs (%s), python %s, rq %s, celery %s, redis-py %s"
        % (os.cpu_count(), cpu_model(), sys.version.split()[0], rq.__version__,
           celery.__version__, redis.__version__))
    say("# jobs enqueued/published before the workers start; run time from worker start"
        " until all jobs are done (includes worker start-up)")

    tmp = tempfile.mkdtemp(prefix="queue-peers-bench-")
    rproc = r = None
    try:
        rproc, port, r = start_redis(tmp)
        url = "redis://127.0.0.1:%d/0" % port
        say("# redis-server %s on port %d, no persistence" % (r.info("server")["redis_version"], port))

        with open(os.path.join(tmp, "benchjobs.py"), "w") as f:
            f.write(RQ_MODULE)
        with open(os.path.join(tmp, "benchtasks.py"), "w") as f:
            f.write(CELERY_MODULE % {"url": url})
        env = dict(os.environ)
        env["PYTHONPATH"] = tmp
        env.pop("PYTHONHOME", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"

        if rq_fork_jobs != jobs:
            say("# rq's default Worker runs %d jobs instead of %d (RQ_FORK_JOBS): it forks a"
                " work horse per job" % (rq_fork_jobs, jobs))
        ok = bench_rq("rq (default Worker, fork per job)", "rq.worker.Worker",
                      rq_fork_jobs, concurrency, r, url, tmp, env)
        ok &= bench_rq("rq (SimpleWorker, no fork)", "rq.worker.SimpleWorker",
                       jobs, concurrency, r, url, tmp, env)
        say("# celery's task is not a pure no-op: it INCRs a Redis counter so completion can be counted")
        ok &= bench_celery(jobs, concurrency, r, url, tmp, env)
        return 0 if ok else 1
    finally:
        for p in children:
            if p is not rproc:
                stop(p)
        if rproc is not None:
            stop_redis(rproc, r)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
