#!/usr/bin/python3
"""The dashboard's screenshots in docs/: a real drover, some pools, jobs and a schedule, headless chromium.

    /usr/bin/python3 scripts/screenshots.py DROVER [OUT_DIR]      (scripts/screenshots.sh runs it)

Writes OUT_DIR (default docs/)/dashboard-{overview,pool,jobs,autoscaler,logs}.png at
1280x800. Needs Debian's chromium, chromium-driver and python3-selenium.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "browser"))
import drover_harness as h  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CONFIG = r"""
defaults { grace = 2 }
pool "web" { cmd = { "/bin/sh", "-c", "echo \"web worker $DROVER_SLOT listening\"; exec sleep 100000" }, n = 3 }
pool "mailer" { cmd = { "/bin/sh", "-c", "echo \"mailer $DROVER_SLOT ready\"; exec sleep 100000" }, n = 2 }
-- A job per run: its args on stdin; those that ask to fail do.
pool "thumbs" {
  cmd = { "/bin/sh", "-c", [[args=$(cat); case "$args" in *fail*) echo "cannot read $args"; exit 1;; esac; sleep 1; echo "thumbnail of $args"]] },
  n = 2, jobs = true,
}
pool "reports" { cmd = { "/bin/sh", "-c", "echo \"report $(cat)\"" }, n = 1, jobs = true }
autoscale "thumbs" { min = 1, max = 6, policy = (load "latency_slo"){ max_age = 5 } }
schedule "nightly-report" { cron = "0 3 * * *", tz = "Europe/Berlin", topic = "reports", args = { kind = "daily" } }
schedule "heartbeat" { every = "10s", topic = "reports", args = { kind = "heartbeat" }, overlap = false }
"""


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    drover_bin = os.path.abspath(sys.argv[1])
    out = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "docs"))
    os.makedirs(out, exist_ok=True)
    with h.Drover(drover_bin, CONFIG) as d:
        # The broken ones first (the queue is first in, first out), so they are dead by the time
        # of the screenshots while the rest still run.
        jobs = [{"topic": "thumbs", "args": {"file": f"broken-{i}.png", "fail": True}, "attempts": 1} for i in range(3)]
        jobs += [{"topic": "thumbs", "args": {"file": f"img-{i:03}.png"}} for i in range(400)]
        d.api("POST", "/api/v1/jobs", {"jobs": jobs})
        d.api("POST", "/api/v1/schedules/nightly-report/run")  # so the schedule has a last run
        driver = h.chrome(1280, 800)
        try:
            wait = WebDriverWait(driver, 60)
            h.login(driver, d.base, d.token)
            # Charts over 5 minutes (a point every 2 s), once drover has a minute of history;
            # meanwhile the jobs move.
            driver.execute_script("sessionStorage.setItem('drover-range', '5')")
            h.wait_until(lambda: len(d.api("GET", "/api/v1/history")["t_ms"]) >= 60, 120, "a minute of history")
            h.wait_until(lambda: d.api("GET", "/api/v1/jobs?topic=thumbs&state=dead&limit=10")["jobs"], 60, "dead jobs")

            def shot(name):
                path = os.path.join(out, f"dashboard-{name}.png")
                driver.save_screenshot(path)
                print(path)

            h.go(driver, "/", "overview")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-pool="thumbs"] td.target')))
            shot("overview")

            h.go(driver, "/pool/web", "pool")
            wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "table#workers tr[data-slot]")) == 3)
            shot("pool")

            h.go(driver, "/jobs", "jobs")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'table#topics tr[data-topic="thumbs"]')))
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "table#jobs tr[data-job]")))
            shot("jobs")

            h.go(driver, "/autoscaler", "autoscaler")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'table#policies tr[data-pool="thumbs"]')))
            shot("autoscaler")

            h.go(driver, "/logs", "logs")
            Select(wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "select#log-pool")))).select_by_value("")
            wait.until(lambda _: len(driver.find_elements(By.CSS_SELECTOR, "#log-lines div.line")) >= 10)
            shot("logs")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
