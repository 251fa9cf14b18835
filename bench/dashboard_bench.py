#!/usr/bin/python3
"""The dashboard at scale: 1,000 workers and 100,000 queued jobs, in headless chromium.

    /usr/bin/python3 bench/dashboard_bench.py build/drover [build/tests/fake_worker] [--repeat 5] [--pools 10] [--per-pool 100] [--jobs 100000]

Starts a real drover (POOLS pools of PER_POOL workers each: fake_worker sleep, else
/bin/sleep; and a jobs pool of size 0, so its JOBS jobs stay queued, enqueued through the
API in batches), then measures, each REPEAT times, printing every run and the median:

- overview first render: navigation start to every pool's row present with its target
  (performance.now() in the page, from a MutationObserver installed at document start);
- live update: a resize through the API (PATCH /api/v1/pools/NAME) to the overview
  showing the new target (wall clock: the page's Date.now() minus the client's, same host);
- jobs page first render with the queue full: navigation start to the first job row,
  and the longest main-thread task meanwhile (PerformanceObserver longtask; > 50 ms only);
- page weight: the bytes of /, /ui/app.js and /ui/app.css (goal: under 300 KB).

Needs Debian's chromium, chromium-driver and python3-selenium. Run it on a quiet machine.
"""
import argparse
import os
import random
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "browser"))
import drover_harness as h  # noqa: E402

from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# Installed before any of the page's own scripts: records when each wanted condition first
# holds, and the longest main-thread task.
PROBE = """
window.__bench = {t: {}, longest: 0, longtasks: 0, want: {}};
(function () {
  const b = window.__bench;
  const pools = %(pools)d;
  b.want.overview = () => {
    const rows = document.querySelectorAll('table#pools tr[data-pool]');
    if (rows.length < pools) return false;
    for (const r of rows) { const c = r.querySelector('td.target'); if (!c || !c.textContent.trim()) return false; }
    return true;
  };
  b.want.jobs = () => document.querySelector('table#jobs tr[data-job]') !== null &&
                      document.querySelector('table#topics tr[data-topic="bulk"]') !== null;
  b.check = () => {
    for (const [name, fn] of Object.entries(b.want)) {
      if (name in b.t) continue;
      let ok = false;
      try { ok = fn(); } catch (e) {}
      if (ok) b.t[name] = {perf: performance.now(), wall: Date.now()};
    }
  };
  new MutationObserver(b.check).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
  try {
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) { b.longest = Math.max(b.longest, e.duration); b.longtasks++; }
    }).observe({type: 'longtask', buffered: true});
  } catch (e) {}
})();
"""


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(xs, unit="ms"):
    return f"median {median(xs):8.1f} {unit}   runs: " + ", ".join(f"{x:.1f}" for x in xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drover")
    ap.add_argument("fake_worker", nargs="?", default="")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pools", type=int, default=10)
    ap.add_argument("--per-pool", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=300, help="seconds for any one wait")
    a = ap.parse_args()

    # Two pipes and a few more fds per worker: lift the soft limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    cmd = [os.path.abspath(a.fake_worker), "sleep", "100000"] if a.fake_worker else ["sleep", "100000"]
    lua_cmd = "{ " + ", ".join(h.lua_string(x) for x in cmd) + " }"
    names = [f"p{i}" for i in range(a.pools)]
    config = "defaults { grace = 2 }\n" + "".join(f'pool "{n}" {{ cmd = {lua_cmd}, n = {a.per_pool} }}\n' for n in names)
    config += 'pool "bulk" { cmd = "true", n = 0, jobs = true }\n'
    all_pools = a.pools + 1

    print(f"drover {a.drover}: {a.pools} pools x {a.per_pool} workers ({' '.join(cmd[:2])}), {a.jobs} jobs queued")
    with h.Drover(a.drover, config, start_timeout=a.timeout) as d:
        t = time.monotonic()
        h.wait_until(lambda: sum(d.api("GET", f"/api/v1/pools/{n}")["running"] for n in names) == a.pools * a.per_pool,
                     a.timeout, "every worker running", interval=0.5)
        print(f"  {a.pools * a.per_pool} workers running after {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        batch = 1000  # ~40 KB a request, under the 64 KB body limit
        for start in range(0, a.jobs, batch):
            jobs = [{"topic": "bulk", "args": {"i": i}} for i in range(start, min(a.jobs, start + batch))]
            d.api("POST", "/api/v1/jobs", {"jobs": jobs})
        h.wait_until(lambda: next(x for x in d.api("GET", "/api/v1/topics")["topics"] if x["topic"] == "bulk")["queued"] == a.jobs,
                     a.timeout, f"{a.jobs} jobs queued", interval=0.5)
        print(f"  {a.jobs} jobs enqueued in {time.monotonic() - t:.1f} s")

        # Page weight, as served (no Accept-Encoding).
        weights = {}
        for path in ("/", "/ui/app.js", "/ui/app.css"):
            status, body, headers = d.raw("GET", path, token=False)
            if status != 200:
                status, body, headers = d.raw("GET", path)
            weights[path] = (status, len(body), headers.get("Content-Encoding", ""))

        # Without the back/forward cache: each run's previous document would keep its event
        # stream open there, and after a few runs the browser's 6 connections to the host are
        # all held by streams (a defect of its own, tests/browser's test_six_tabs).
        driver = h.chrome(1280, 800, extra_args=["--disable-features=BackForwardCache"])
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % {"pools": all_pools}})
            h.login(driver, d.base, d.token, a.timeout)
            wait = WebDriverWait(driver, a.timeout)

            def load(route, mark):
                driver.get("about:blank")
                driver.get(d.base + "/#" + route)
                got = wait.until(lambda dr: dr.execute_script(f"return window.__bench && window.__bench.t.{mark}"))
                # A slow request says why a run was slow.
                for name, start, took in driver.execute_script(
                        "return performance.getEntriesByType('resource').filter(e => e.duration > 1000 && e.startTime < arguments[0])"
                        ".map(e => [e.name, e.startTime, e.duration])", got["perf"]):
                    print(f"  note: {route}: {name.replace(d.base, '')} took {took:.0f} ms (from {start:.0f} ms)")
                return got["perf"], driver.execute_script("return window.__bench.longest")

            first, first_long = [], []
            for _ in range(a.repeat):
                ms, longest = load("/", "overview")
                first.append(ms)
                first_long.append(longest)

            live = []
            load("/", "overview")
            pool = names[0]
            for i in range(a.repeat):
                n = a.per_pool + 1 if i % 2 == 0 else a.per_pool
                driver.execute_script(
                    "const b = window.__bench, n = String(arguments[0]);"
                    "delete b.t.live;"
                    "b.want.live = () => { const c = document.querySelector('tr[data-pool=\"%s\"] td.target');"
                    "  return c && c.textContent.trim() === n; };" % pool, n)
                # The page polls: resize at a random phase of its period, not right after a refresh.
                time.sleep(random.uniform(0, 2.5))
                sent = time.time() * 1000
                d.api("PATCH", f"/api/v1/pools/{pool}", {"n": n})
                got = wait.until(lambda dr: dr.execute_script("return window.__bench.t.live"))
                live.append(got["wall"] - sent)
                # Settle the pool before the next resize, so each run measures one change.
                h.wait_until(lambda: d.api("GET", f"/api/v1/pools/{pool}")["running"] == n, a.timeout, f"{pool} at {n}",
                             interval=0.2)

            jobs_ms, jobs_long = [], []
            for _ in range(a.repeat):
                ms, longest = load("/jobs", "jobs")
                jobs_ms.append(ms)
                # Longtasks seen until the render, and in the second after it (a late freeze):
                # a measuring window, not a wait for anything.
                time.sleep(1.0)
                jobs_long.append(driver.execute_script("return window.__bench.longest"))
        finally:
            driver.quit()

    print()
    print(f"overview first render ({all_pools} pools):  {fmt(first)}")
    print(f"  longest main-thread task:            {fmt(first_long)}")
    print(f"live update (API resize -> overview):  {fmt(live)}")
    print(f"jobs page first render ({a.jobs} queued): {fmt(jobs_ms)}")
    print(f"  longest main-thread task (to +1 s):  {fmt(jobs_long)}")
    total = 0
    for path, (status, size, enc) in weights.items():
        total += size
        print(f"page weight {path:12} {status} {size:8,d} bytes{' (' + enc + ')' if enc else ''}")
    print(f"page weight total          {total:8,d} bytes ({total / 1024:.1f} KiB; goal < 300 KB: "
          f"{'met' if total < 300_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
