#!/usr/bin/python3
"""What a hostile or careless client can do to a supervisor's HTTP control plane.

drover (--http, libmicrohttpd) against supervisord's inet_http_server (medusa), in one run:
  held:     1000 idle + 100 slowloris connections are opened and kept; then, while they
            are held, a fresh client asks the health route (drover /healthz, supervisord
            the XML-RPC supervisor.getState) and an authenticated read 20 times each:
            answered within 1 s or not, p50 and max.
  body:     one request announcing a 1 GB body streams 200 MB at the server: the
            server's RSS growth while it does, and whether it answered before reading.
Usage: bench/http_exposure.py [DROVER_BIN]   (default build/drover)
Figures go to stdout; paste them into bench/RESULTS.md with the machine and commit.
"""
import base64, os, resource, select, socket, subprocess, sys, tempfile, threading, time

DROVER = sys.argv[1] if len(sys.argv) > 1 else "build/drover"
IDLE, SLOW = 1000, 100


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def request(port, raw, timeout=1.0):
    """One request on a fresh connection: seconds to the first byte of the answer, or None."""
    t0 = time.perf_counter()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.sendall(raw)
        s.settimeout(max(0.01, timeout - (time.perf_counter() - t0)))
        data = s.recv(64)
        s.close()
        return time.perf_counter() - t0 if data else None
    except OSError:
        return None


def hold(port, stop):
    """IDLE connected-and-silent sockets, SLOW slowloris ones (a header byte every second)."""
    socks = []
    for i in range(IDLE + SLOW):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    slow = socks[IDLE:]
    for s in slow:
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        except OSError:
            pass
    def drip():
        while not stop.is_set():
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(1.0)
    t = threading.Thread(target=drip, daemon=True)
    t.start()
    return socks, t


def measure_held(port, probes):
    stop = threading.Event()
    socks, t = hold(port, stop)
    time.sleep(1.5)  # let the server take them all
    out = {"held": len(socks)}
    for name, raw in probes.items():
        times = [request(port, raw) for _ in range(20)]
        ok = sorted(x for x in times if x is not None)
        out[name] = (len(ok), ok[len(ok) // 2] * 1000 if ok else None, ok[-1] * 1000 if ok else None)
    stop.set()
    t.join()
    for s in socks:
        s.close()
    return out


def measure_body(port, pid, head):
    """Announce 1 GB, stream up to 200 MB; the server's RSS growth and when it answered."""
    before = rss_kb(pid)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(head)
    chunk = b"x" * (1 << 20)
    sent, answered_at = 0, None
    peak = before
    try:
        while sent < 200 << 20:
            r, w, _ = select.select([s], [s], [], 5)
            if r and answered_at is None:
                if s.recv(64):
                    answered_at = sent
                else:
                    break
            if w:
                sent += s.send(chunk)
            peak = max(peak, rss_kb(pid))
    except OSError:
        pass
    s.close()
    time.sleep(0.5)
    peak = max(peak, rss_kb(pid))
    return {"sent_mb": sent >> 20, "answered_after_mb": None if answered_at is None else answered_at >> 20,
            "rss_growth_mb": (peak - before) / 1024}


def run_drover(tmp):
    port = free_port()
    cfg = os.path.join(tmp, "pools.lua")
    with open(cfg, "w") as f:
        f.write("pool 'w' { cmd = { '/bin/sleep', '3600' }, n = 2 }\n")
    env = dict(os.environ, XDG_STATE_HOME=tmp, XDG_RUNTIME_DIR=tmp)
    p = subprocess.Popen([DROVER, cfg, "--no-shell", "-q", "--http", f"127.0.0.1:{port}"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_port(port), "drover did not listen"
    token = open(os.path.join(tmp, "drover", "http-token")).read().strip()
    probes = {
        "health": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        "authenticated": (f"GET /api/v1/pools HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                          "Connection: close\r\n\r\n").encode(),
    }
    held = measure_held(port, probes)
    body = measure_body(port, p.pid, (f"POST /api/v1/pools HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                                      "Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n").encode())
    p.terminate()
    p.wait(10)
    return held, body


def run_supervisord(tmp):
    port = free_port()
    conf = os.path.join(tmp, "supervisord.conf")
    with open(conf, "w") as f:
        f.write(f"""[supervisord]
nodaemon=true
logfile={tmp}/supervisord.log
pidfile={tmp}/supervisord.pid
[inet_http_server]
port=127.0.0.1:{port}
username=bench
password=bench
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:w]
command=/bin/sleep 3600
numprocs=2
process_name=%(program_name)s_%(process_num)d
""")
    p = subprocess.Popen(["supervisord", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_port(port), "supervisord did not listen"
    auth = base64.b64encode(b"bench:bench").decode()
    rpc = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName></methodCall>"
    probes = {
        "health": (f"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\nContent-Type: text/xml\r\n"
                   f"Content-Length: {len(rpc)}\r\nConnection: close\r\n\r\n").encode() + rpc,
        "authenticated": (f"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
                          "Connection: close\r\n\r\n").encode(),
    }
    held = measure_held(port, probes)
    body = measure_body(port, p.pid, (f"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
                                      "Content-Type: text/xml\r\nContent-Length: 1073741824\r\n\r\n").encode())
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
    return held, body


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    results = {}
    for name, fn in (("drover", run_drover), ("supervisord", run_supervisord)):
        with tempfile.TemporaryDirectory(prefix=f"http-exposure-{name}-") as tmp:
            try:
                results[name] = fn(tmp)
            except Exception as e:  # a peer that is not installed is said, not fatal
                print(f"{name}: not measured ({e})")
    print(f"{IDLE} idle + {SLOW} slowloris connections held; 20 fresh requests each (answered within 1 s, p50, max)")
    for name, (held, body) in results.items():
        for probe in ("health", "authenticated"):
            n, p50, mx = held[probe]
            fmt = lambda v: "-" if v is None else f"{v:.1f} ms"
            print(f"  {name:<12} {probe:<14} {n:>2}/20 answered  p50 {fmt(p50):>9}  max {fmt(mx):>9}  ({held['held']} held)")
    print("a request announcing a 1 GB body, 200 MB streamed at it")
    for name, (held, body) in results.items():
        ans = "never" if body["answered_after_mb"] is None else f"after {body['answered_after_mb']} MB"
        print(f"  {name:<12} answered {ans:<14} sent {body['sent_mb']:>3} MB  RSS +{body['rss_growth_mb']:.1f} MB")


if __name__ == "__main__":
    main()
