"""A real drover and a real headless chromium, for the dashboard's tests, screenshots and bench.

Run by Debian's /usr/bin/python3 (python3-selenium 4.8, chromium, chromium-driver). Nothing
here sleeps to synchronize: every wait polls a condition (the drover's stderr, the API, the
DOM) under a deadline that only separates "happened" from "never happens".
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SERVING = re.compile(r"serving http://([^/]+):([0-9]+)/")


def binaries(argv):
    """(drover, fake_worker): `PROG [DROVER [FAKE_WORKER]] [unittest args]`, else DROVER_BIN, FAKE_WORKER.

    The paths taken are removed from argv, so the rest can go to unittest.
    """
    found = []
    while len(argv) > 1 and len(found) < 2 and not argv[1].startswith("-") and os.path.isfile(argv[1]):
        found.append(os.path.abspath(argv.pop(1)))
    drover = found[0] if found else os.environ.get("DROVER_BIN", "")
    fake = found[1] if len(found) > 1 else os.environ.get("FAKE_WORKER", "")
    return drover, fake


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns a true value (returned) or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # a poll that failed this time (connection refused, ...)
            last_error = e
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(interval)


def lua_string(s):
    """A Lua long-bracket string literal holding s verbatim."""
    level = 0
    while "]" + "=" * level + "]" in s:
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


class Drover:
    """A drover started as `drover CONFIG.lua --no-shell --http ADDR --http-token-file F`.

    Its state (jobs.db), runtime dir and token live in a temporary directory, removed by
    stop(). Use as a context manager.
    """

    def __init__(self, binary, config, http="127.0.0.1:0", extra_args=(), start_timeout=60, keep_dir=False):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="drover-browser-")
        self.keep_dir = keep_dir
        self.token = secrets.token_hex(32)  # 64 hex characters
        self.token_file = os.path.join(self.dir, "token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        self.config_file = os.path.join(self.dir, "drover.lua")
        with open(self.config_file, "w") as f:
            f.write(config)
        self.err_file = os.path.join(self.dir, "stderr")
        env = dict(os.environ)
        env.pop("DROVER_HTTP_TOKEN", None)
        env["XDG_STATE_HOME"] = self.dir
        env["XDG_RUNTIME_DIR"] = self.dir
        args = [binary, self.config_file, "--no-shell", "--http", http, "--http-token-file", self.token_file,
                "--state", os.path.join(self.dir, "state"), *extra_args]
        with open(self.err_file, "wb") as err, open(os.devnull, "rb") as null:
            self.proc = subprocess.Popen(args, stdin=null, stdout=err, stderr=err, env=env, cwd=self.dir)
        try:
            host, port = wait_until(self._serving, start_timeout, "drover's `serving http://` line")
        except BaseException:
            self.stop()
            raise
        self.host, self.port = host, int(port)
        self.base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}"

    def _serving(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"drover exited with {self.proc.returncode}: {self.stderr()[-2000:]}")
        m = SERVING.search(self.stderr())
        return (m.group(1), m.group(2)) if m else None

    def stderr(self):
        try:
            with open(self.err_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def raw(self, method, path, body=None, token=True, headers=None, base=None, timeout=30):
        """(status, body bytes, headers) of one request; never raises on an HTTP error."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {self.token if token is True else token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request((base or self.base) + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, rh = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, rh = e.code, e.read(), e.headers
        return status, raw, rh

    def request(self, method, path, body=None, token=True, headers=None, base=None, timeout=30):
        """(status, parsed JSON or text, headers) of one request; never raises on an HTTP error."""
        status, raw, rh = self.raw(method, path, body, token, headers, base, timeout)
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text), rh
        except ValueError:
            return status, text, rh

    def api(self, method, path, body=None, expect=(200, 201)):
        """The parsed answer of an API call that must succeed."""
        status, answer, _ = self.request(method, path, body)
        if status not in expect:
            raise AssertionError(f"{method} {path}: {status} {answer}")
        return answer

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def non_loopback_ipv4():
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates = []
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout
        candidates += out.split()
    except (OSError, subprocess.SubprocessError):
        pass
    try:  # the source address of the default route (a UDP connect sends nothing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            candidates.append(s.getsockname()[0])
    except OSError:
        pass
    for a in candidates:
        try:
            socket.inet_aton(a)
        except OSError:
            continue
        if a.count(".") == 3 and not a.startswith("127.") and a != "0.0.0.0":
            return a
    return None


def chrome(width=1280, height=800, perf_log=False, extra_args=()):
    """A headless chromium under selenium; quit() it, which also removes its profile dir."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="drover-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", f"--window-size={width},{height}",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions", *extra_args):
        opts.add_argument(a)
    if perf_log:
        opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    # The page's viewport itself: a window's size includes what the browser draws around it.
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    if inner != [width, height]:
        size = driver.get_window_size()
        driver.set_window_size(size["width"] + width - inner[0], size["height"] + height - inner[1])
    quit_ = driver.quit

    def quit_and_clean():
        try:
            quit_()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def login(driver, base, token, timeout=30):
    """Opens base/, logs in with token and waits for the overview."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/")
    wait = WebDriverWait(driver, timeout)
    field = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#login input#token")))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "button#login-submit").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, 'body[data-page="overview"] table#pools tr[data-pool]')))


def go(driver, route, page, timeout=30):
    """Shows the hash route (e.g. "/jobs") and waits for body[data-page=page]."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.location.hash = arguments[0];", "#" + route)
    WebDriverWait(driver, timeout).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, f'body[data-page="{page}"]')))
