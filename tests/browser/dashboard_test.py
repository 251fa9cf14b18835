#!/usr/bin/python3
"""The web dashboard (issue 16) in a real headless chromium against a real drover.

    /usr/bin/python3 tests/browser/dashboard_test.py [DROVER [FAKE_WORKER]] [unittest args]
    DROVER_BIN=build/drover FAKE_WORKER=build/tests/fake_worker /usr/bin/python3 tests/browser/dashboard_test.py -v

Needs Debian's chromium, chromium-driver and python3-selenium (scripts/install-deps.sh --test),
hence /usr/bin/python3. The DOM it reads is web/CONTRACT.md's. Every wait is on the DOM or
the API, under deadlines far above what the page needs: they only tell "happens" from
"never happens".
"""
import json
import os
import secrets
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drover_harness as h  # noqa: E402

try:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # ctest's SKIP_RETURN_CODE
    print(f"skipped: {e} (run by /usr/bin/python3? scripts/install-deps.sh --test installs python3-selenium)")
    sys.exit(77)
if not (os.access("/usr/bin/chromium", os.X_OK) and os.access("/usr/bin/chromedriver", os.X_OK)):
    print("skipped: no /usr/bin/chromium or /usr/bin/chromedriver (scripts/install-deps.sh --test)")
    sys.exit(77)

DROVER, FAKE_WORKER = h.binaries(sys.argv)
WAIT = 60  # seconds: a page that has not shown it by then never will
MARK = secrets.token_hex(4)  # this run's workers' lines
POOLS = ["web", "logger", "sleepers", "failing", "quick"]


def config(fake_worker):
    sleeper = [fake_worker, "sleep", "100000"] if fake_worker else ["sleep", "100000"]
    lua = h.lua_string
    return f"""
pool "web" {{ cmd = {{ "/bin/sh", "-c", {lua(f'echo "hello-{MARK}-$$"; exec sleep 100000')} }}, n = 2, grace = 1 }}
pool "logger" {{ cmd = {{ "/bin/sh", "-c", {lua('echo "fresh-$MARK"; exec sleep 100000')} }}, n = 1, grace = 1,
                 env = {{ MARK = "first" }} }}
pool "sleepers" {{ cmd = {{ {", ".join(lua(a) for a in sleeper)} }}, n = 1, grace = 1 }}
-- Fails until the test writes healed/ID (the config's directory is the workers' cwd).
pool "failing" {{ cmd = {{ "/bin/sh", "-c",
  {lua('test -e "healed/$DROVER_JOB_ID" && { echo "healed $DROVER_JOB_ID"; exit 0; }; echo "failing job $DROVER_JOB_ID"; exit 3')} }},
  n = 2, jobs = true }}
pool "quick" {{ cmd = {{ "/bin/sh", "-c", "echo ok" }}, n = 2, jobs = true }}
schedule "browser-tick" {{ every = "1h", topic = "quick", args = {{ kind = "tick" }} }}
autoscale "quick" {{ min = 0, max = 4, policy = (load "latency_slo"){{ max_age = 30 }} }}
"""


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DROVER or not os.access(DROVER, os.X_OK):
            raise unittest.SkipTest("no drover binary: pass it as the first argument or DROVER_BIN")
        cls.drover = h.Drover(DROVER, config(FAKE_WORKER))
        cls.addClassCleanup(cls.drover.stop)
        # No back/forward cache: a document the tests leave would keep its event stream open
        # there, and a few of them hold all 6 of the browser's connections to drover
        # (test_six_tabs shows the same with tabs).
        cls.driver = h.chrome(perf_log=True, extra_args=["--disable-features=BackForwardCache"])
        cls.addClassCleanup(cls.driver.quit)
        os.makedirs(os.path.join(cls.drover.dir, "healed"), exist_ok=True)

    # --- helpers ---------------------------------------------------------------------------

    def api(self, method, path, body=None):
        return self.drover.api(method, path, body)

    def diagnosis(self):
        """What the page shows, for a failed wait's message."""
        d = self.driver
        parts = [f"url={d.current_url}"]
        try:
            parts.append("body[data-page]=%r" % d.execute_script("return document.body && document.body.dataset.page"))
            parts.append("#error=%r" % d.execute_script(
                "const e = document.getElementById('error'); return e ? e.textContent : null"))
            logs = [e["message"] for e in d.get_log("browser")][-10:]
            if logs:
                parts.append("console: " + " | ".join(logs))
        except WebDriverException as e:
            parts.append(f"(page unreadable: {e.msg})")
        return "; ".join(parts)

    def until(self, condition, what, timeout=WAIT):
        try:
            # The page redraws a table when its data changes: an element found a moment ago
            # may be gone by the time it is read; the next poll finds its successor.
            return WebDriverWait(self.driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            self.fail(f"timed out after {timeout} s waiting for {what} ({self.diagnosis()})")

    def css(self, selector, timeout=WAIT):
        return self.until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)), selector, timeout)

    def text_of(self, selector):
        """A condition: the element's text, once it is present and not empty."""
        def check(d):
            els = d.find_elements(By.CSS_SELECTOR, selector)
            return els and els[0].text.strip()
        return check

    def count(self, selector):
        return len(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def ensure_logged_in(self):
        d = self.driver
        d.get(self.drover.base + "/")
        state = self.until(lambda d: ("login" if any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, "#login"))
                                      else "in" if d.find_elements(By.CSS_SELECTOR, "table#pools tr[data-pool]") else None),
                           "the login form or the overview")
        if state == "login":
            self.login(self.drover.base, self.drover.token)

    def login(self, base, token, timeout=WAIT):
        try:
            h.login(self.driver, base, token, timeout)
        except TimeoutException:
            self.fail(f"logging in at {base}/ never showed the overview's pool rows ({self.diagnosis()})")

    def go(self, route, page):
        try:
            h.go(self.driver, route, page, WAIT)
        except TimeoutException:
            self.fail(f"#{route} never showed body[data-page={page}] ({self.diagnosis()})")

    def dead_job(self, topic="failing"):
        """A job of `topic` with one attempt, once the API says it is dead."""
        job = self.api("POST", "/api/v1/jobs", {"topic": topic, "attempts": 1})["jobs"][0]
        h.wait_until(lambda: self.api("GET", f"/api/v1/jobs/{job['id']}")["state"] == "dead", WAIT,
                     f"job {job['id']} to be dead")
        return job["id"]

    def heal(self, job_id):
        open(os.path.join(self.drover.dir, "healed", str(job_id)), "w").close()

    def wait_job(self, job_id, state):
        return h.wait_until(lambda: (j := self.api("GET", f"/api/v1/jobs/{job_id}"))["state"] == state and j,
                            WAIT, f"job {job_id} to be {state} (API)")

    def choose(self, select, value):
        """Picks the option whose value (the property: <option>NAME</option> has no attribute) is value."""
        def option(d):
            for o in d.find_elements(By.CSS_SELECTOR, f"{select} option"):
                if o.get_property("value") == value:
                    return o
            return None
        o = self.until(option, f"{select} to offer {value!r}")
        if not o.is_selected():
            o.click()
        self.until(lambda d: d.find_element(By.CSS_SELECTOR, select).get_property("value") == value,
                   f"{select} to read {value!r}")

    def set_input(self, selector, value):
        el = self.css(selector)
        el.clear()
        el.send_keys(str(value))
        # Some pages read the value on change, others on click: make both see it.
        self.driver.execute_script("arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", el)

    # --- the cases ---------------------------------------------------------------------------

    def test_login(self):
        d = self.driver
        d.get(self.drover.base + "/")
        d.execute_script("sessionStorage.clear(); localStorage.clear();")
        d.refresh()
        self.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#login")), "#login shown with no token kept")
        self.css("input#token")
        self.css("button#login-submit")
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, "table#pools tr[data-pool]"),
                         "pool rows shown before any token was given")

        wrong = secrets.token_hex(32)
        self.assertNotEqual(wrong, self.drover.token)
        field = d.find_element(By.CSS_SELECTOR, "input#token")
        field.clear()
        field.send_keys(wrong)
        d.find_element(By.CSS_SELECTOR, "button#login-submit").click()
        self.until(lambda d: any(e.is_displayed() and e.text.strip() for e in d.find_elements(By.CSS_SELECTOR, "#login-error")),
                   "#login-error to say the wrong token was refused")
        self.assertTrue(d.find_element(By.CSS_SELECTOR, "#login").is_displayed(), "#login hidden after a refused token")
        self.assertFalse(d.find_elements(By.CSS_SELECTOR, "table#pools tr[data-pool]"),
                         "pool rows shown with a refused token")

        field = d.find_element(By.CSS_SELECTOR, "input#token")
        field.clear()
        field.send_keys(self.drover.token)
        d.find_element(By.CSS_SELECTOR, "button#login-submit").click()
        for pool in POOLS:
            self.css(f'body[data-page="overview"] table#pools tr[data-pool="{pool}"]')
        self.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, "#login")), "#login hidden once logged in")
        self.assertEqual(self.count("table#pools tr[data-pool]"), len(POOLS), "one row per pool, no more")
        self.until(lambda d: "web" in (self.text_of('tr[data-pool="web"] a[href="#/pool/web"]')(d) or ""),
                   "the overview's web row to link to its page")

    def test_every_page_loads(self):
        self.ensure_logged_in()
        job_id = self.dead_job()

        # Overview: each pool's target is the API's.
        self.go("/", "overview")
        self.css("#totals")
        self.css("#live")
        self.css("select#range")
        for chart in ("workers", "queue", "jobs", "runtime", "restarts"):
            self.css(f'svg.chart[data-chart="{chart}"]')
        for pool in POOLS:  # the API's n now: quick's autoscale policy may change it meanwhile
            self.until(lambda d, pool=pool: self.text_of(f'tr[data-pool="{pool}"] td.target')(d)
                       == str(self.api("GET", f"/api/v1/pools/{pool}")["n"]),
                       f"overview: {pool}'s td.target to read the API's n")
        for cell in ("running", "busy", "idle", "restarts", "stalls", "queue", "age"):
            self.css(f'tr[data-pool="web"] td.{cell}')

        # Pool page: a row per worker, each with the pid the API has.
        self.go("/pool/web", "pool")
        self.until(lambda d: "web" in (self.text_of("#pool-name")(d) or ""), "#pool-name to name web")
        for sel in ("input#resize-n", "button#resize", "button#pool-start", "button#pool-stop", "select#signal-name",
                    "table#exits"):
            self.css(sel)
        workers = self.api("GET", "/api/v1/pools/web")["workers"]
        self.assertTrue(workers)
        for w in workers:
            self.until(lambda d, w=w: self.text_of(f'table#workers tr[data-slot="{w["slot"]}"] td.pid')(d) == str(w["pid"]),
                       f"pool page: slot {w['slot']}'s td.pid to read {w['pid']}")
        for cell in ("uptime", "heartbeat", "status", "cpu", "rss"):
            self.css(f'table#workers tr[data-slot="{workers[0]["slot"]}"] td.{cell}')
        self.css(f'table#workers tr[data-slot="{workers[0]["slot"]}"] button.signal')

        # Logs: the web workers' start lines.
        self.go("/logs", "logs")
        for sel in ("select#log-pool", "input#log-filter", "button#log-pause"):
            self.css(sel)
        self.until(lambda d: any(f"hello-{MARK}-" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-lines div.line")),
                   f"#log-lines to show a web worker's hello-{MARK} line")

        # Autoscaler: the policy of the config.
        self.go("/autoscaler", "autoscaler")
        self.css('table#policies tr[data-pool="quick"] td.answer')
        self.css('table#policies tr[data-pool="quick"] td.reason')
        self.css('table#policies tr[data-pool="quick"] button.toggle')
        self.css('svg.chart[data-chart="decisions"]')

        # Jobs: the topics and the dead job.
        self.go("/jobs", "jobs")
        self.css('table#topics tr[data-topic="failing"]')
        self.css("select#job-state")
        self.css("button#retry-all-dead")
        self.choose("select#job-state", "dead")
        self.css(f'table#jobs tr[data-job="{job_id}"] a[href="#/jobs/{job_id}"]')

        # A job's page.
        self.go(f"/jobs/{job_id}", "job")
        self.until(lambda d: "dead" in (self.text_of("#job-detail .state")(d) or "").lower(),
                   f"#job-detail .state to say job {job_id} is dead")
        for sel in ("button#job-retry", "button#job-cancel", "button#job-drop"):
            self.css(sel)

        # Schedules: the config's schedule.
        self.go("/schedules", "schedules")
        self.css('table#schedules tr[data-schedule="browser-tick"]')

        # Fleet: this host, as the API names it.
        hosts = self.api("GET", "/api/v1/fleet")["hosts"]
        self.assertEqual(len(hosts), 1)
        self.assertEqual(hosts[0]["name"], socket.gethostname())
        self.go("/fleet", "fleet")
        self.css(f'table#hosts tr[data-host="{hosts[0]["name"]}"]')

        # The nav reaches every page.
        for nav in ("overview", "logs", "autoscaler", "jobs", "schedules", "fleet"):
            self.css(f'#nav a[data-nav="{nav}"]').click()
            self.css(f'body[data-page="{nav}"]')

    def test_live_data(self):
        self.ensure_logged_in()
        self.go("/", "overview")
        live = self.css("#live[data-updates]")
        first = int(live.get_attribute("data-updates") or 0)
        self.until(lambda d: int(d.find_element(By.CSS_SELECTOR, "#live").get_attribute("data-updates") or 0) >= first + 3,
                   f"#live[data-updates] to grow from {first} by 3")
        # A change made elsewhere (the API) shows without a reload.
        n = self.api("GET", "/api/v1/pools/sleepers")["n"] + 1
        self.api("PATCH", "/api/v1/pools/sleepers", {"n": n})
        self.until(lambda d: self.text_of('tr[data-pool="sleepers"] td.target')(d) == str(n),
                   f"overview: sleepers' td.target to become {n} after a resize through the API")
        self.until(lambda d: self.text_of('tr[data-pool="sleepers"] td.running')(d) == str(n),
                   f"overview: sleepers' td.running to become {n}")

    def test_resize_by_clicking(self):
        self.ensure_logged_in()
        self.go("/pool/web", "pool")
        n = self.api("GET", "/api/v1/pools/web")["n"] + 2
        self.until(lambda d: self.count("table#workers tr[data-slot]") == n - 2, f"{n - 2} worker rows before the resize")
        self.set_input("input#resize-n", n)
        self.css("button#resize").click()
        self.until(lambda d: self.count("table#workers tr[data-slot]") == n, f"{n} tr[data-slot] rows after #resize")
        pool = h.wait_until(lambda: (p := self.api("GET", "/api/v1/pools/web"))["running"] == n and p, WAIT,
                            f"web to run {n} workers (API)")
        self.assertEqual(pool["n"], n)
        self.assertEqual(pool["target"], n)
        # Each row is one of the API's workers.
        for w in pool["workers"]:
            self.until(lambda d, w=w: self.text_of(f'table#workers tr[data-slot="{w["slot"]}"] td.pid')(d) == str(w["pid"]),
                       f"slot {w['slot']}'s pid {w['pid']} on the pool page")

    def test_follow_log_line(self):
        self.ensure_logged_in()
        self.go("/logs", "logs")
        self.choose("select#log-pool", "logger")
        fresh = "fresh-" + secrets.token_hex(8)
        self.assertFalse([e for e in self.driver.find_elements(By.CSS_SELECTOR, "#log-lines div.line") if fresh in e.text])
        # New env rolls the pool: its new worker writes the fresh line.
        self.api("PATCH", "/api/v1/pools/logger", {"env": {"MARK": fresh[len("fresh-"):]}})
        self.until(lambda d: any(fresh in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-lines div.line")),
                   f"#log-lines to show the new worker's line {fresh!r}")
        # Only logger's lines while it is selected.
        lines = [e.text for e in self.driver.find_elements(By.CSS_SELECTOR, "#log-lines div.line")]
        self.assertFalse([t for t in lines if f"hello-{MARK}-" in t], "web's lines shown with #log-pool = logger")
        # Pause says Resume, and back.
        pause = self.css("button#log-pause")
        self.assertIn("Pause", pause.text)
        pause.click()
        self.until(lambda d: "Resume" in d.find_element(By.CSS_SELECTOR, "button#log-pause").text, "#log-pause to say Resume")
        self.css("button#log-pause").click()
        self.until(lambda d: "Pause" in d.find_element(By.CSS_SELECTOR, "button#log-pause").text, "#log-pause to say Pause")

    def test_retry_dead_job(self):
        self.ensure_logged_in()
        job_id = self.dead_job()
        before = self.api("GET", f"/api/v1/jobs/{job_id}")
        self.assertEqual(before["attempt"], 1)
        self.go(f"/jobs/{job_id}", "job")
        self.until(lambda d: "dead" in (self.text_of("#job-detail .state")(d) or "").lower(), f"job {job_id} shown dead")
        self.heal(job_id)  # its next run succeeds
        self.driver.execute_script("window.confirm = () => true;")
        self.css("button#job-retry").click()
        after = self.wait_job(job_id, "done")
        self.assertGreater(after["started_ms"], before["started_ms"], "no new attempt after #job-retry")
        self.assertIn("healed", after["result"])
        self.until(lambda d: "done" in (self.text_of("#job-detail .state")(d) or "").lower(),
                   f"#job-detail .state to say job {job_id} is done")

    def test_retry_all_dead(self):
        self.ensure_logged_in()
        ids = [self.dead_job(), self.dead_job()]
        self.go("/jobs", "jobs")
        self.choose("select#job-state", "dead")
        for i in ids:
            self.css(f'table#jobs tr[data-job="{i}"]')
        for i in ids:
            self.heal(i)
        self.driver.execute_script("window.confirm = () => true;")
        self.css("button#retry-all-dead").click()
        for i in ids:
            done = self.wait_job(i, "done")
            self.assertEqual(done["attempt"], 1)
            self.assertIn("healed", done["result"])
        for i in ids:  # no longer dead: gone from the dead list
            self.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, f'table#jobs tr[data-job="{i}"]')),
                       f"job {i} to leave the dead list")

    def test_log_pool_chosen_while_loading(self):
        """Choosing a pool while every pool's lines are still on their way shows that pool's alone."""
        self.ensure_logged_in()
        d = self.driver
        # The tail of every pool's lines answers 1.5 s late (a slow network, in the page's fetch).
        slow = d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
            window.__slowTailDone = false;
            const fetch0 = window.fetch;
            window.fetch = async (url, init) => {
              const u = String(url);
              if (!(u.startsWith('/api/v1/log?') && !u.includes('pool='))) return fetch0(url, init);
              await new Promise((r) => setTimeout(r, 1500));
              try { return await fetch0(url, init); } finally { setTimeout(() => { window.__slowTailDone = true; }, 100); }
            };"""})
        try:
            d.get("about:blank")
            d.get(self.drover.base + "/#/logs")
            self.css('body[data-page="logs"]')
            self.choose("select#log-pool", "logger")
            self.until(lambda d: any("fresh-" in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-lines div.line")),
                       "logger's lines")
            self.until(lambda d: d.execute_script("return window.__slowTailDone"), "the late answer to have come")
            # After the late answer, a fresh line of logger's still arrives, and web's never show.
            fresh = "fresh-" + secrets.token_hex(8)
            self.api("PATCH", "/api/v1/pools/logger", {"env": {"MARK": fresh[len("fresh-"):]}})
            self.until(lambda d: any(fresh in e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-lines div.line")),
                       f"#log-lines to show {fresh!r}")
            lines = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#log-lines div.line")]
            self.assertFalse([t for t in lines if f"hello-{MARK}-" in t], "web's lines shown with #log-pool = logger")
            self.assertEqual(sum(fresh in t for t in lines), 1, "a line shown twice (two streams drawing)")
        finally:
            d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": slow["identifier"]})
            d.get("about:blank")

    # A browser opens at most 6 HTTP/1.1 connections to one host, for all its tabs, and a
    # shown page holds its /api/v1/events stream (the logs page a second) open: tabs behind
    # others must let go of theirs (the page does on visibilitychange and pagehide), or the
    # sixth tab's requests wait for a connection that never frees. This failed before they did.
    def test_six_tabs(self):
        d = self.driver
        first = d.current_window_handle
        try:
            for _ in range(6):
                d.switch_to.new_window("tab")
                self.login(self.drover.base, self.drover.token, 30)  # well under a second when it works
        finally:
            for handle in d.window_handles:
                if handle != first:
                    d.switch_to.window(handle)
                    d.close()
            d.switch_to.window(first)

    def test_security_api(self):
        d = self.drover
        status, body, _ = d.request("GET", "/api/v1/snapshot", token=False)
        self.assertEqual(status, 401, body)
        status, body, _ = d.request("GET", "/api/v1/snapshot", token=secrets.token_hex(32))
        self.assertEqual(status, 401, body)
        self.assertEqual(d.request("GET", "/api/v1/snapshot")[0], 200)
        # With the right token, a page of another site is refused; drover's own is not.
        job = {"topic": "quick", "args": {"from": "origin-test"}}
        status, body, _ = d.request("POST", "/api/v1/jobs", job, headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403, body)
        status, body, _ = d.request("PATCH", "/api/v1/pools/sleepers", {"n": 1}, headers={"Origin": "http://evil.example"})
        self.assertEqual(status, 403, body)
        status, body, _ = d.request("POST", "/api/v1/jobs", job, headers={"Origin": d.base})
        self.assertEqual(status, 201, body)
        # The page itself is served without the token (it asks for it).
        status, body, headers = d.request("GET", "/", token=False)
        self.assertEqual(status, 200, body)
        self.assertIn("text/html", headers.get("Content-Type", ""))

    def test_security_token_not_in_urls(self):
        d = self.driver
        d.get_log("performance")  # drop what came before
        d.get(self.drover.base + "/")
        d.execute_script("sessionStorage.clear(); localStorage.clear();")
        d.refresh()
        self.login(self.drover.base, self.drover.token)
        pages = [("/", "overview"), ("/pool/web", "pool"), ("/logs", "logs"), ("/autoscaler", "autoscaler"),
                 ("/jobs", "jobs"), ("/schedules", "schedules"), ("/fleet", "fleet")]
        for route, page in pages:
            self.go(route, page)
            self.assertNotIn(self.drover.token, d.execute_script("return window.location.href"))
        # Let a live refresh happen on the last page too.
        self.go("/", "overview")
        first = int(self.css("#live").get_attribute("data-updates") or 0)
        self.until(lambda d: int(d.find_element(By.CSS_SELECTOR, "#live").get_attribute("data-updates") or 0) > first,
                   "a live update")
        urls = []
        for entry in d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg["method"] == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
            elif msg["method"] == "Network.webSocketCreated":
                urls.append(msg["params"]["url"])
        api = [u for u in urls if "/api/v1/" in u]
        self.assertTrue(api, f"the performance log shows no API request: {urls[:20]}")
        leaked = [u.replace(self.drover.token, "<TOKEN>") for u in urls if self.drover.token in u]
        self.assertFalse(leaked, "the token in requested URLs")
        self.assertNotIn(self.drover.token, d.execute_script("return window.location.href + ' ' + document.cookie"))
        kept = d.execute_script("return JSON.stringify(Object.assign({}, localStorage))")
        self.assertNotIn(self.drover.token, kept, "the token kept in localStorage (the contract says sessionStorage)")

    def test_security_beyond_loopback(self):
        address = h.non_loopback_ipv4()
        if not address:
            self.skipTest("this machine has no non-loopback IPv4 address")
        with h.Drover(DROVER, 'pool "remote" { cmd = { "sleep", "100000" }, n = 1, grace = 1 }\n',
                      http="0.0.0.0:0") as remote:
            base = f"http://{address}:{remote.port}"
            status, body, _ = remote.request("GET", "/api/v1/pools", token=False, base=base)
            self.assertEqual(status, 401, body)
            status, body, _ = remote.request("GET", "/api/v1/pools", base=base)
            self.assertEqual(status, 200, body)
            self.assertEqual([p["name"] for p in body["pools"]], ["remote"])
            # The dashboard works there too, with the token.
            self.login(base, remote.token)
            self.css('table#pools tr[data-pool="remote"]')


if __name__ == "__main__":
    unittest.main()
