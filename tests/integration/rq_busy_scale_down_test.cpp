// Issue 11, point 4, acceptance: real rq 1.13 workers (Debian's python3-rq, no drover
// heartbeat) on a test redis-server, under the real drover binary with
// `busy = redis{ rq = ... }`. Jobs of different lengths leave some workers busy and some
// idle; scale-downs must stop idle ones only, and rq's own registries must show every job
// finished and none failed.
//
// The case is built so that drover's default order would be wrong: the two workers that
// end up with the long jobs are the two newest (newest-first would stop exactly them).
// rq workers block in BLPOP, and Redis serves blocked clients first come, first served:
// the two older workers, blocked first, take the two short jobs enqueued first.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/drover_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;
using nlohmann::json;

namespace {

constexpr const char* kRqCtl = R"py(
import json, sys
from redis import Redis
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
r = Redis.from_url(sys.argv[1])
q = Queue("default", connection=r)
cmd = sys.argv[2]
if cmd == "enqueue":
    for s in sys.argv[3:]:
        q.enqueue("jobs.nap", float(s), job_timeout=120, result_ttl=600)
elif cmd == "workers":
    print(json.dumps({str(w.pid): w.get_state() for w in Worker.all(connection=r)}))
elif cmd == "jobs":
    print(json.dumps({"finished": FinishedJobRegistry(queue=q).count, "failed": FailedJobRegistry(queue=q).count,
                      "started": StartedJobRegistry(queue=q).count, "queued": q.count}))
)py";

std::string run(const std::string& cmd) {
  CommandResult r = run_command({"/bin/sh", "-c", cmd});
  REQUIRE(r.status == 0);
  return r.out;
}

struct Rq {
  TempDir& dir;
  std::string url;
  json call(const std::string& args) {
    std::string out = run("/usr/bin/python3 " + dir.file("rqctl.py") + " " + url + " " + args);
    return out.empty() ? json() : json::parse(out);
  }
  // pid -> "busy" / "idle" / "started"..., as rq records it.
  std::map<pid_t, std::string> workers() {
    std::map<pid_t, std::string> out;
    const json listed = call("workers");  // kept: items() of a temporary would dangle
    for (auto& [pid, state] : listed.items()) out[std::stoi(pid)] = state.is_string() ? state.get<std::string>() : "";  // null while it registers
    return out;
  }
};

// drover's view: pid -> busy (true/false) for running workers whose busy came from rq.
std::map<pid_t, bool> drover_busy(httplib::Client& c) {
  std::map<pid_t, bool> out;
  auto r = c.Get("/api/v1/pools/w/workers");
  if (!r || r->status != 200) return out;
  const json body = json::parse(r->body);  // kept: the loop must not range over a temporary's member
  for (const json& w : body["workers"])
    if (w["state"] == "running" && w.contains("busy") && w.value("busy_from", "") == "rq")
      out[w["pid"].get<pid_t>()] = w["busy"].get<bool>();
  return out;
}

std::set<pid_t> running(httplib::Client& c) {
  std::set<pid_t> out;
  auto r = c.Get("/api/v1/pools/w/workers");
  if (!r || r->status != 200) return out;
  const json body = json::parse(r->body);  // kept: the loop must not range over a temporary's member
  for (const json& w : body["workers"])
    if (w["state"] == "running") out.insert(w["pid"].get<pid_t>());
  return out;
}

void resize(httplib::Client& c, int n) {
  auto r = c.Patch("/api/v1/config", json{{"w", n}}.dump(), "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
}

// Every worker rq lists is idle, and drover sees exactly these n workers as idle.
bool all_idle(Rq& rq, httplib::Client& c, size_t n) {
  auto w = rq.workers();
  if (w.size() != n || !std::all_of(w.begin(), w.end(), [](auto& kv) { return kv.second == "idle"; })) return false;
  auto d = drover_busy(c);
  return d.size() == n && std::none_of(d.begin(), d.end(), [](auto& kv) { return kv.second; });
}

// rq and drover agree on which workers are busy, and `busy` of them are.
bool agree(Rq& rq, httplib::Client& c, size_t busy, std::set<pid_t>& busy_pids) {
  auto w = rq.workers();
  auto d = drover_busy(c);
  busy_pids.clear();
  for (auto& [pid, state] : w) {
    if (state != "busy" && state != "idle") return false;
    if (!d.count(pid) || d[pid] != (state == "busy")) return false;
    if (state == "busy") busy_pids.insert(pid);
  }
  return busy_pids.size() == busy && d.size() == w.size();
}

}  // namespace

TEST_CASE("rq busy scale-down: real rq workers - idle ones are stopped - no job fails or is interrupted") {
  if (access("/usr/bin/rq", X_OK) != 0) {
    MESSAGE("skipped: /usr/bin/rq (python3-rq) is not installed");
    return;
  }
  RedisServer redis;
  TempDir dir;
  const std::string url = redis.url();
  write_file(dir.file("rqctl.py"), kRqCtl);
  write_file(dir.file("jobs.py"), "import time\ndef nap(s):\n    time.sleep(s)\n    return s\n");
  // grace far above the longest job: the rule help/autoscale.md gives.
  write_file(dir.file("pools.lua"), fmt::format(R"(
pool "w" {{
  cmd = {{ "/usr/bin/rq", "worker", "--url", "{0}", "default" }},
  n = 2, grace = 60, cwd = "{1}", env = {{ PYTHONPATH = "{1}" }},
  busy = redis{{ rq = "default", url = "{0}" }},
}}
)", url, dir.path()));
  DroverProcess drover({dir.file("pools.lua"), "--no-shell", "--http", "127.0.0.1:0"}, dir.file("drover.err"));
  const int port = drover.http_port();
  REQUIRE(port > 0);
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(drover.http_token());  // the one drover made: TCP always takes one
  Rq rq{dir, url};

  // Two older workers, then two newer ones, all idle and all blocked in BLPOP.
  REQUIRE(wait_until([&] { return all_idle(rq, c, 2); }, 30000ms));
  const std::set<pid_t> older = running(c);
  resize(c, 4);
  REQUIRE(wait_until([&] { return all_idle(rq, c, 4); }, 30000ms));
  auto blocked = [&] {
    std::string clients = redis.run({"CLIENT", "LIST"});
    size_t n = 0;
    for (size_t at = 0; (at = clients.find("cmd=blpop", at)) != std::string::npos; ++at) ++n;
    return n == 4;
  };
  REQUIRE(wait_until(blocked, 10000ms));

  // Short jobs go to the two older workers, long ones to the two newer ones.
  rq.call("enqueue 0.2 0.2 8 8");
  std::set<pid_t> busy;
  REQUIRE(wait_until([&] { return agree(rq, c, 2, busy); }, 6000ms));
  std::set<pid_t> newer_busy;
  for (pid_t p : busy)
    if (!older.count(p)) newer_busy.insert(p);
  CHECK_MESSAGE(newer_busy.size() == 2, "the long jobs went to the newest workers: newest-first would stop them");

  // Step 1: 4 -> 2 while 2 are idle: the idle ones go, the busy ones stay.
  resize(c, 2);
  REQUIRE(wait_until([&] { return running(c).size() == 2; }, 10000ms));
  CHECK(running(c) == busy);
  for (pid_t p : busy) CHECK(pid_alive(p));

  // Step 2, once those jobs are done: one long job for two workers, then 2 -> 1.
  REQUIRE(wait_until([&] { return rq.call("jobs")["finished"] == 4; }, 30000ms));
  REQUIRE(wait_until([&] { return all_idle(rq, c, 2); }, 10000ms));
  rq.call("enqueue 4");
  REQUIRE(wait_until([&] { return agree(rq, c, 1, busy); }, 3500ms));
  resize(c, 1);
  REQUIRE(wait_until([&] { return running(c).size() == 1; }, 10000ms));
  CHECK(running(c) == busy);

  // rq's own books: every job finished, none failed or left started.
  REQUIRE(wait_until([&] { return rq.call("jobs")["finished"] == 5; }, 30000ms));
  json jobs = rq.call("jobs");
  CHECK(jobs["failed"] == 0);
  CHECK(jobs["started"] == 0);
  CHECK(jobs["queued"] == 0);
  drover.signal(SIGTERM);
  CHECK(drover.wait_exit(30000ms) == 0);
}
