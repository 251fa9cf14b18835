// The README's --workers examples, run as written through the real binary (issue 11,
// point 5): `rq worker {queues}` with Debian's rq on a real Redis, where a pool serving
// "baz,quux" must run the jobs of both queues (rq reads one argument per queue; with the
// list as one word it listens on a queue named "baz,quux" and runs nothing), and resque's
// `rake resque:work`, which reads its queues from QUEUE ("baz,quux", and "*": every
// queue), here a stand-in `rake` that says what it got.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/drover_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/run_command.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

// Enqueues one job per queue with rq's own API, as an application does: job "job-QUEUE"
// runs os.getpid (importable by any worker, whatever its directory).
constexpr const char* kEnqueue = R"(
import sys
from redis import Redis
from rq import Queue
r = Redis.from_url(sys.argv[1])
for q in sys.argv[2:]:
    Queue(q, connection=r).enqueue("os.getpid", job_id="job-" + q)
)";

std::string cmdline(pid_t pid) { return read_file("/proc/" + std::to_string(pid) + "/cmdline"); }

}  // namespace

TEST_CASE("queue lists: the README's rq example - rq worker {queues} runs the jobs of baz and of quux") {
  RedisServer redis;
  TempDir dir;
  // As the README has it, with rq's own variable for where Redis is.
  DroverProcess d({"--workers", "foo=2:bar=2:baz,quux=5", "--cmd", "/usr/bin/rq worker {queues}", "--no-shell", "-q",
                   "--log", dir.file("log")},
                  dir.file("err"), {{"RQ_REDIS_URL", redis.url()}});
  const std::map<std::string, size_t> sizes{{"foo", 2}, {"bar", 2}, {"baz,quux", 5}};
  REQUIRE(wait_until([&] { return d.counts() == sizes; }, 20s));
  // One argument per queue (rq's script runs under python3: argv ends with its own).
  const std::vector<pid_t> bazquux = d.workers_by_pool()["baz,quux"];  // a copy: the map is a temporary
  for (pid_t w : bazquux) {
    CHECK(wait_until([&] { return cmdline(w).find("/usr/bin/rq") != std::string::npos; }, 5s));
    const std::string args = cmdline(w);
    const std::string want = std::string("/usr/bin/rq") + '\0' + "worker" + '\0' + "baz" + '\0' + "quux" + '\0';
    CHECK(args.substr(args.find("/usr/bin/rq")) == want);
    CHECK(proc_env(w, "QUEUE") == "baz,quux");
  }
  CommandResult enqueued =
      run_command({"/usr/bin/python3", "-c", kEnqueue, redis.url(), "baz", "quux", "foo", "bar"});
  REQUIRE(enqueued.status == 0);
  for (const char* q : {"baz", "quux", "foo", "bar"}) {
    INFO("queue ", q);
    CHECK(wait_until([&] { return redis.run({"HGET", std::string("rq:job:job-") + q, "status"}) == "finished"; }, 30s));
  }
  d.signal(SIGTERM);
  CHECK(d.wait_exit(30s) == 0);
}

TEST_CASE("queue lists: the README's resque example - QUEUE is the list whole - '*' every queue") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("bin"));
  // Stands in for `rake resque:work`, which takes its queues from QUEUE.
  write_file(dir.file("bin/rake"), "#!/bin/sh\necho \"rake $* QUEUE=$QUEUE\"\nexec sleep 1000\n");
  REQUIRE(chmod(dir.file("bin/rake").c_str(), 0755) == 0);
  const char* path = std::getenv("PATH");
  DroverProcess d({"--workers", "foo=2:bar=2:baz,quux=5:*=1", "--cmd", "rake resque:work", "--no-shell", "-q", "--log",
                   dir.file("log")},
                  dir.file("err"), {{"PATH", dir.file("bin") + ":" + (path ? path : "/usr/bin:/bin")}});
  const std::map<std::string, size_t> sizes{{"foo", 2}, {"bar", 2}, {"baz,quux", 5}, {"*", 1}};
  REQUIRE(wait_until([&] { return d.counts() == sizes; }, 10s));
  for (const auto& [pool, pids] : d.workers_by_pool())
    for (pid_t w : pids) CHECK(proc_env(w, "QUEUE") == pool);
  CHECK(wait_until([&] {
    const std::string log = read_file(dir.file("log"));
    return log.find("rake resque:work QUEUE=baz,quux\n") != std::string::npos &&
           log.find("rake resque:work QUEUE=*\n") != std::string::npos &&
           log.find("rake resque:work QUEUE=foo\n") != std::string::npos;
  }, 10s));
  d.signal(SIGTERM);
  CHECK(d.wait_exit(20s) == 0);
}

TEST_CASE("queue lists: rq worker {queues} with the '*' pool - refused naming the pool - nothing starts") {
  TempDir dir;
  DroverProcess d({"--workers", "foo=2:bar=2:baz,quux=5:*=1", "--cmd", "rq worker {queues}", "--no-shell", "-q"},
                  dir.file("err"));
  CHECK(d.wait_exit(10s) == 1);
  const std::string err = read_file(dir.file("err"));
  CHECK(err.find("--cmd: pool '*': {queues} cannot pass on '*'") != std::string::npos);
  CHECK(err.find("use {queue} where '*' means every queue") != std::string::npos);
}
