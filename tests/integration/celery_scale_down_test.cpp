// Issue 11 acceptance: real Celery 5.2 (Debian's python3-celery, prefork, Redis broker)
// under the drover binary: 200 tasks of 1-3 s through five scale-down steps, grace longer
// than the tasks, stop_to = "process" (TERM to Celery's main process, which finishes its
// running tasks; a group signal would hit the prefork children mid-task). 0 tasks may fail:
// counted in Celery's result backend, and no "exited prematurely" in the workers' output.
#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>

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

constexpr const char* kTasks = R"py(import os, sys, time, json
from celery import Celery
app = Celery("tasks", broker=os.environ["BROKER"], backend=os.environ["BROKER"])
app.conf.worker_prefetch_multiplier = 1
app.conf.result_expires = 3600
@app.task
def nap(s):
    time.sleep(s)
    return s
if __name__ == "__main__":
    ids = sys.argv[2]
    if sys.argv[1] == "enqueue":
        with open(ids, "w") as f:
            for i in range(200):
                f.write(nap.delay(1 + (i % 5) * 0.5).id + "\n")
    else:
        from celery.result import AsyncResult
        states = {}
        for line in open(ids):
            st = AsyncResult(line.strip(), app=app).state
            states[st] = states.get(st, 0) + 1
        print(json.dumps(states))
)py";

std::string capture(const std::string& cmd) {
  CommandResult r = run_command({"/bin/sh", "-c", cmd});
  REQUIRE(r.status == 0);
  return r.out;
}

size_t running(httplib::Client& c) {
  auto r = c.Get("/api/v1/pools/c/workers");
  if (!r || r->status != 200) return 0;
  const json body = json::parse(r->body);
  size_t n = 0;
  for (const json& w : body["workers"]) n += w["state"] == "running";
  return n;
}

}  // namespace

TEST_CASE("celery scale-down: 200 real Celery tasks through five scale-down steps - none fails") {
  if (std::system("/usr/bin/python3 -c 'import celery' 2>/dev/null") != 0) {
    MESSAGE("skipped: python3-celery is not installed");
    return;
  }
  RedisServer redis;
  TempDir dir;
  write_file(dir.file("tasks.py"), kTasks);
  write_file(dir.file("pools.lua"), fmt::format(R"(
pool "c" {{
  cmd = {{ "/usr/bin/python3", "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork", "-c", "2",
          "--without-mingle", "--without-gossip", "--loglevel", "info", "-n", "c%i@%h" }},
  n = 8, grace = 20, stop_to = "process", cwd = "{0}", env = {{ BROKER = "{1}" }},
  busy = redis{{ celery = "celery", url = "{1}" }},
}}
)", dir.path(), redis.url()));
  DroverProcess drover({dir.file("pools.lua"), "--no-shell", "--http", "127.0.0.1:0"}, dir.file("drover.err"));
  const int port = drover.http_port();
  REQUIRE(port > 0);
  httplib::Client c("127.0.0.1", port);
  c.set_bearer_token_auth(drover.http_token());  // the one drover made: TCP always takes one
  REQUIRE(wait_until([&] { return running(c) == 8; }, 30000ms));

  const std::string py = fmt::format("cd {} && BROKER='{}' /usr/bin/python3 tasks.py", dir.path(), redis.url());
  capture(py + " enqueue " + dir.file("ids"));
  auto states = [&] { return json::parse(capture(py + " states " + dir.file("ids"))); };
  // Five steps down, 8 -> 3, each once the previous one is done and more tasks have run.
  for (int n = 7; n >= 3; --n) {
    REQUIRE(wait_until([&] { return states().value("SUCCESS", 0) >= (8 - n) * 12; }, 60000ms));
    auto r = c.Patch("/api/v1/config", json{{"c", n}}.dump(), "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    REQUIRE(wait_until([&] { return running(c) == static_cast<size_t>(n); }, 30000ms));
  }
  json final_states;
  REQUIRE(wait_until([&] { return (final_states = states()).value("SUCCESS", 0) == 200; }, 120000ms));
  CHECK(final_states.value("FAILURE", 0) == 0);
  drover.signal(SIGTERM);
  CHECK(drover.wait_exit(60000ms) == 0);
  const std::string out = read_file(dir.file("drover.err"));
  CHECK(out.find("exited prematurely") == std::string::npos);
  CHECK(out.find("WorkerLostError") == std::string::npos);
}
