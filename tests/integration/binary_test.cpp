// The real drover binary, as an operator runs it: config file, signals, kill -9 of the
// master, SIGHUP reloads, config errors, --workers spec strings.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "tests/support/drover_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/test_util.h"

extern char** environ;

using namespace drover::test;

namespace {

using Drover = DroverProcess;

std::string pool_lua(const std::string& name, int n, const std::string& mode) {
  return "pool \"" + name + "\" { cmd = { \"" + fake_worker_path() + "\", \"" + mode + "\" }, n = " +
         std::to_string(n) + " }\n";
}

std::string pools_lua(int n_a, int n_b, const std::string& mode = "sleep") {
  return "defaults { grace = 1 }\n" + pool_lua("a", n_a, mode) + pool_lua("b", n_b, mode);
}

bool all_catch_term(const std::vector<pid_t>& pids) {
  return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return catches_signal(p, SIGTERM); });
}

std::vector<pid_t> concat(const std::vector<pid_t>& a, const std::vector<pid_t>& b) {
  std::vector<pid_t> out(a);
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

void check_no_zombie_child() { CHECK(zombie_children_of(getpid()).empty()); }

}  // namespace

TEST_CASE("drover binary: SIGTERM stops every worker and exits 0") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 1));
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log"), "--pid-file", dir.file("pid")},
             dir.file("err"));
    REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
    const auto workers = d.workers();
    const auto guards = d.guards();
    CHECK(guards.size() == 1);
    auto by_pool = d.workers_by_pool();
    CHECK(by_pool["a"].size() == 2);
    CHECK(by_pool["b"].size() == 1);
    CHECK(std::stoi(read_file(dir.file("pid"))) == d.pid());
    // The log names every worker as it spawns.
    CHECK(wait_until([&] {
      std::string log = read_file(dir.file("log"));
      return std::all_of(workers.begin(), workers.end(),
                         [&](pid_t w) { return log.find("spawned pid " + std::to_string(w)) != std::string::npos; });
    }, 3s));
    REQUIRE(wait_until([&] { return all_catch_term(workers); }, 3s));
    d.signal(SIGTERM);
    CHECK(d.wait_exit(5s) == 0);
    // Gone the moment drover has exited: it waited for them.
    CHECK(all_dead(workers));
    CHECK(all_dead(guards));
    CHECK(access(dir.file("pid").c_str(), F_OK) != 0);  // pid file removed
    const std::string log = read_file(dir.file("log"));
    for (pid_t w : workers) CHECK(log.find("[" + std::to_string(w) + "]: fake_worker: TERM") != std::string::npos);
    CHECK(log.find("shutdown-finished") != std::string::npos);
    CHECK(read_file(dir.file("err")).empty());  // -q: nothing echoed
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: kill -9 of drover leaves no worker and no grandchild after 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 2, "fork-child"));
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
    REQUIRE(wait_until([&] { return d.workers().size() == 4; }, 5s));
    const auto workers = d.workers();
    std::vector<pid_t> grandchildren;
    for (pid_t w : workers) {
      REQUIRE(wait_until([&] { return children_of(w).size() == 1; }, 3s));
      grandchildren.push_back(children_of(w)[0]);
    }
    const auto guards = d.guards();
    REQUIRE(guards.size() == 1);
    for (pid_t g : grandchildren) REQUIRE(pid_alive(g));
    d.signal(SIGKILL);
    CHECK(d.wait_exit(2s) == 128 + SIGKILL);
    // The orphan guard sees drover go and kills every worker's process group.
    CHECK(wait_until([&] { return all_dead(concat(workers, grandchildren)); }, 1s));
    CHECK(wait_until([&] { return all_dead(guards); }, 1s));
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: SIGHUP reloads the config live - survivors keep their pids") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 2));
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
    REQUIRE(wait_until([&] { return d.workers().size() == 4; }, 5s));
    const auto before = d.workers_by_pool();
    REQUIRE(before.at("a").size() == 2);
    REQUIRE(before.at("b").size() == 2);

    write_file(dir.file("pools.lua"), pools_lua(4, 1));
    d.signal(SIGHUP);
    INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
    REQUIRE(wait_until([&] {
      auto now = d.workers_by_pool();
      return now["a"].size() == 4 && now["b"].size() == 1;
    }, 5s));
    const auto after = d.workers_by_pool();
    // a grew: both originals are still there. b shrank: its survivor is an original.
    for (pid_t p : before.at("a")) CHECK(std::count(after.at("a").begin(), after.at("a").end(), p) == 1);
    CHECK(std::count(before.at("b").begin(), before.at("b").end(), after.at("b")[0]) == 1);
    CHECK(read_file(dir.file("log")).find("reload-requested") != std::string::npos);

    // A broken config on reload changes nothing and says why.
    write_file(dir.file("pools.lua"), "pool \"a\" { cmd = 'x', n = 'many' }\n");
    d.signal(SIGHUP);
    REQUIRE(wait_until([&] { return read_file(dir.file("err")).find("reload failed") != std::string::npos; }, 5s));
    CHECK(read_file(dir.file("err")).find("pools.lua:1:") != std::string::npos);
    CHECK(d.workers_by_pool() == after);
    d.signal(SIGTERM);
    CHECK(d.wait_exit(5s) == 0);
    CHECK(all_dead(concat(after.at("a"), after.at("b"))));
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: a config error exits 1 and names the file and line") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1, "sleep") + "pool \"b\" { cmd = 'sleep 1', nn = 2 }\n");
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "--log", dir.file("log")}, dir.file("err"));
    CHECK(d.wait_exit(5s) == 1);
    const std::string err = read_file(dir.file("err"));
    INFO("stderr: ", err);
    CHECK(err.find("pools.lua:2:") != std::string::npos);
    CHECK(err.find("nn") != std::string::npos);
    // Refused before anything started: pool "a" (line 1, valid) never spawned.
    CHECK(read_file(dir.file("log")).find("spawned") == std::string::npos);
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: --workers spec string with a command template") {
  TempDir dir;
  {
    Drover d({"--workers", "a=2:b,c=1", "--cmd", std::string(fake_worker_path()) + " env", "--no-shell", "-q",
              "--log", dir.file("log")},
             dir.file("err"));
    REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
    auto by_pool = d.workers_by_pool();
    REQUIRE(by_pool["a"].size() == 2);
    REQUIRE(by_pool["b,c"].size() == 1);
    for (pid_t w : by_pool["a"]) CHECK(proc_env(w, "QUEUE") == "a");
    const pid_t bc = by_pool["b,c"][0];
    CHECK(proc_env(bc, "QUEUE") == "b,c");
    // What the worker itself printed (env mode), with the pool's name as the log prefix.
    CHECK(wait_until([&] {
      return read_file(dir.file("log")).find("b,c[" + std::to_string(bc) + "]: QUEUE=b,c") != std::string::npos;
    }, 3s));
    const std::string log = read_file(dir.file("log"));
    CHECK(log.find("b,c[" + std::to_string(bc) + "]: DROVER_POOL=b,c") != std::string::npos);
    const auto workers = d.workers();
    REQUIRE(wait_until([&] { return all_catch_term(workers); }, 3s));
    d.signal(SIGINT);  // --no-shell: Ctrl-C stops gracefully too
    CHECK(d.wait_exit(5s) == 0);
    CHECK(all_dead(workers));
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: a bad --workers spec names the token") {
  TempDir dir;
  {
    Drover d({"--workers", "a=2:b=x", "--cmd", "sleep 1", "--no-shell"}, dir.file("err"));
    CHECK(d.wait_exit(5s) == 1);
    std::string err = read_file(dir.file("err"));
    CHECK(err.find("'b=x'") != std::string::npos);
    CHECK(err.find("column 7") != std::string::npos);
  }
  check_no_zombie_child();
}

TEST_CASE("drover binary: examples/pools.lua runs as it is") {
  TempDir dir;
  Drover d({std::string(DROVER_SOURCE_DIR) + "/examples/pools.lua", "--no-shell", "-q", "--log", dir.file("log")},
           dir.file("err"));
  bool ticking = wait_until([&] { return read_file(dir.file("log")).find("ticker worker 1: tick 1") != std::string::npos; }, 10s);
  bool working = wait_until([&] { return read_file(dir.file("log")).find("job 1 started") != std::string::npos; }, 10s);
  CHECK(ticking);
  CHECK(working);
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  INFO(read_file(dir.file("log")));
  CHECK(read_file(dir.file("log")).find("TERM, finishing up") != std::string::npos);
}

TEST_CASE("drover binary: examples/autoscale.lua runs as it is - 60 jobs in Redis grow the pool - done, it shrinks") {
  RedisServer redis;
  TempDir dir;
  // The example's config and workers read REDIS_PORT; drover passes its environment on.
  setenv("REDIS_PORT", std::to_string(redis.port()).c_str(), 1);
  Drover d({std::string(DROVER_SOURCE_DIR) + "/examples/autoscale.lua", "--no-shell", "-q", "--log", dir.file("log")},
           dir.file("err"));
  unsetenv("REDIS_PORT");
  INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
  std::vector<std::string> push{"RPUSH", "rq:queue:default"};
  for (int i = 1; i <= 60; ++i) push.push_back("job" + std::to_string(i));
  REQUIRE(redis.run(push) == "60");
  const auto log_has = [&](const std::string& text) { return read_file(dir.file("log")).find(text) != std::string::npos; };
  // A worker may take a job before the first reading, so the depth read is 60 or a little
  // less: assert the size the policy gave for the depth it logged, not one literal line.
  std::string log;  // outlives the match, which points into it
  std::smatch grew;
  const std::regex autoscaled(R"(default autoscaled: 1 -> (\d+) \(queue (\d+) \+ inflight (\d+) at 10 per worker)");
  CHECK(wait_until([&] {
    log = read_file(dir.file("log"));
    return std::regex_search(log, grew, autoscaled);
  }, 10s));
  if (!grew.empty()) {
    const int size = std::stoi(grew[1]), backlog = std::stoi(grew[2]) + std::stoi(grew[3]);
    CHECK(backlog > 40);              // the reading saw the push ...
    CHECK(size == (backlog + 9) / 10);  // ... and the pool got ceil(backlog / 10) for it
  }
  CHECK(wait_until([&] { return log_has("working on job"); }, 10s));
  // 60 one-second jobs on 5-6 workers, then the 10 s cooldown: back to 1 well within 60 s.
  CHECK(wait_until([&] { return log_has("-> 1 (queue 0"); }, 60s));
  CHECK(redis.run({"LLEN", "rq:queue:default"}) == "0");
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
}

TEST_CASE("drover binary: -e runs Lua against the engine and stops; write_config round-trips") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 1) + "pool 'c' { cmd = 'true', n = 0, heartbeat = { timeout = 30, require = true } }\n");
  Drover d({dir.file("pools.lua"), "-e", "config{a=3}", "-e", "print(status().pools.a.n)", "-e",
            "write_config('" + dir.file("written.lua") + "')"},
           dir.file("err"));
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err.out")).find("3\n") != std::string::npos);  // -e prints
  std::string written = read_file(dir.file("written.lua"));
  CHECK(written.find("pool \"a\"") != std::string::npos);
  CHECK(written.find("n = 3") != std::string::npos);
  CHECK(written.find("n = 1") != std::string::npos);
  CHECK(written.find("heartbeat = { timeout = 30, require = true }") != std::string::npos);
  // The written file is a config drover loads.
  Drover again({dir.file("written.lua"), "-e", "print(config().a + config().b)"}, dir.file("err2"));
  CHECK(again.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err2.out")) == "4\n");
  Drover bad({dir.file("pools.lua"), "-e", "config{a=-1}"}, dir.file("err3"));
  CHECK(bad.wait_exit(10s) == 1);
  CHECK(read_file(dir.file("err3.out")).find("out of range") != std::string::npos);
}

// ---- the seeds' config formats ------------------------------------------------------

TEST_CASE("drover binary: -c reads resque-pool's YAML - the RACK_ENV section over the defaults") {
  TempDir dir;
  write_file(dir.file("resque-pool.yml"), "foo: 1\n\"foo,bar\": 2\nproduction:\n  \"foo,bar\": 3\n  baz: 1\n");
  setenv("RACK_ENV", "production", 1);
  Drover d({"-c", dir.file("resque-pool.yml"), "--cmd", std::string(fake_worker_path()) + " sleep", "-e",
            "local p = status().pools print(p.foo.n, p['foo,bar'].n, p.baz.n)"},
           dir.file("err"));
  unsetenv("RACK_ENV");
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err.out")) == "1\t3\t1\n");
  // A bad count is refused with its line, before anything starts.
  write_file(dir.file("bad.yml"), "foo: 1\nbar: many\n");
  Drover bad({"-c", dir.file("bad.yml"), "--no-shell"}, dir.file("err2"));
  CHECK(bad.wait_exit(10s) == 1);
  CHECK(read_file(dir.file("err2")).find("bad.yml:2: \"bar\": count 'many'") != std::string::npos);
  check_no_zombie_child();
}

TEST_CASE("drover binary: --wpm-config runs the autotasks and leaves the other tasks stopped") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("tasks"));
  for (const char* task : {"SleepTask.sh", "OtherTask.sh"}) {
    write_file(dir.file(std::string("tasks/") + task),
               std::string("#!/bin/sh\nexec ") + fake_worker_path() + " sleep\n");
    chmod(dir.file(std::string("tasks/") + task).c_str(), 0755);
  }
  // Its own port, so the test does not need workerpoolmanager's 5591 to be free.
  write_file(dir.file("tasks.json"), R"({"keepalives": {"inbound_port": 15591, "stall_timeout": 60000},
    "path": "tasks", "filesuffix": "Task.sh", "autotasks": {"Sleep": {"cardinality": 2}}})");
  Drover d({"--wpm-config", dir.file("tasks.json"), "--no-shell", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 2; }, 5s));
  auto by_pool = d.workers_by_pool();
  CHECK(by_pool["Sleep"].size() == 2);
  CHECK(by_pool.count("Other") == 0);
  CHECK(proc_env(by_pool["Sleep"][0], "DROVER_HEARTBEAT") == "tcp://127.0.0.1:15591");
  // (The log file is written once per loop iteration: the workers may be up before it.)
  CHECK(wait_until([&] { return read_file(dir.file("log")).find("Other pool-added: n=1 (stopped until start)") !=
                                std::string::npos; }, 2s));
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  check_no_zombie_child();
}

// The acceptance test of issue 3: a workerpoolmanager-style Python worker (2 frames,
// Taskname/Pid, every 2 s, exit 0 on SIGTERM, hard-wired to tcp://localhost:5591) runs
// under --wpm-config unchanged; the keep-alives are what keep it: a task that sends none
// is stalled under the same settings.
TEST_CASE("drover binary: a workerpoolmanager Python worker runs unchanged under --wpm-config") {
  TempDir dir;
  const std::string tasks = std::string(DROVER_SOURCE_DIR) + "/examples/wpm/tasks";
  write_file(dir.file("tasks.json"), R"({"keepalives": {"host": "localhost", "inbound_port": 5591,
    "stall_timeout": 3000, "grace_period": 1000}, "path": ")" + tasks + R"(", "filesuffix": "Task.py",
    "autotasks": {"Example": {"cardinality": 1}, "Idle": {"cardinality": 1}}})");
  Drover d({"--wpm-config", dir.file("tasks.json"), "--no-shell", "--log", dir.file("log")}, dir.file("err"));
  auto pids_of = [&](const std::string& pool) {
    std::vector<pid_t> out;
    for (pid_t c : children_of(d.pid()))
      if (proc_env(c, "DROVER_POOL") == pool) out.push_back(c);
    return out;
  };
  pid_t example = 0;
  REQUIRE(wait_until([&] {
    auto p = pids_of("Example");
    if (p.size() == 1) example = p[0];
    return example > 0;
  }, 10s));
  // Two stall timeouts and more: the Idle task (silent) is stalled, Example never is.
  REQUIRE(wait_until([&] { return read_file(dir.file("log")).find("Idle.0 stalled") != std::string::npos; }, 8s));
  std::this_thread::sleep_for(3500ms);
  const std::string log = read_file(dir.file("log"));
  CHECK(log.find("Example.0 stalled") == std::string::npos);
  CHECK(log.find("heartbeat ignored") == std::string::npos);
  CHECK(pids_of("Example") == std::vector<pid_t>{example});
  d.signal(SIGTERM);
  CHECK(d.wait_exit(15s) == 0);
  CHECK(wait_until([&] { return read_file(dir.file("log")).find("ExampleTask: SIGTERM after") != std::string::npos; }, 2s));
  CHECK(read_file(dir.file("log")).find("Example.0 exited pid " + std::to_string(example) + ": exit 0") !=
        std::string::npos);
  check_no_zombie_child();
}

// ---- running as a service ------------------------------------------------------------

// systemd's side of sd_notify: a datagram socket whose path goes in NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~NotifySocket() { close(fd_); }
  // The next datagram, or "" after the timeout.
  std::string next(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST_CASE("drover binary: --no-shell tells systemd READY - RELOADING - STOPPING - and workers never see NOTIFY_SOCKET") {
  TempDir dir;
  NotifySocket systemd(dir.file("notify"));
  write_file(dir.file("pools.lua"), pools_lua(2, 0));
  setenv("NOTIFY_SOCKET", dir.file("notify").c_str(), 1);
  Drover d({dir.file("pools.lua"), "--no-shell", "-q"}, dir.file("err"));
  unsetenv("NOTIFY_SOCKET");
  CHECK(systemd.next(5s) == "READY=1\nMAINPID=" + std::to_string(d.pid()));
  REQUIRE(wait_until([&] { return d.workers().size() == 2; }, 5s));
  for (pid_t w : d.workers()) CHECK(proc_env(w, "NOTIFY_SOCKET").empty());
  d.signal(SIGHUP);
  CHECK(systemd.next(5s) == "RELOADING=1");
  CHECK(systemd.next(5s) == "READY=1");
  d.signal(SIGTERM);
  CHECK(systemd.next(5s) == "STOPPING=1");
  CHECK(d.wait_exit(10s) == 0);
  check_no_zombie_child();
}

TEST_CASE("drover binary: the config's autoscale lines run under --no-shell - a bad reload keeps them") {
  TempDir dir;
  write_file(dir.file("depth"), "30\n");
  const std::string policy = "local qp = load 'queue_proportional'\n"
                             "autoscale 'a' { every = 0.1, max = 6, cooldown = 0, queue = command 'cat " +
                             dir.file("depth") + "', policy = qp{ per_worker = 10 } }\n";
  write_file(dir.file("pools.lua"), pool_lua("a", 1, "sleep") + policy);
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
    INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
    CHECK(wait_until([&] { return d.workers().size() == 3; }, 5s));
    CHECK(wait_until([&] { return read_file(dir.file("log")).find("a autoscaled: 1 -> 3 (") != std::string::npos; }, 2s));
    // A reload whose policy line fails changes nothing (the file runs once: pools and
    // policies stand or fall together); the old policy still sizes the pool.
    write_file(dir.file("pools.lua"), pool_lua("a", 1, "sleep") + "autoscale 'a' { max = 6 }\n");
    d.signal(SIGHUP);
    CHECK(wait_until([&] {
      const std::string err = read_file(dir.file("err"));
      return err.find("reload failed, keeping the running config: ") != std::string::npos &&
             err.find("pools.lua:2: autoscale \"a\": policy must be a function") != std::string::npos;
    }, 5s));
    write_file(dir.file("depth"), "52\n");
    CHECK(wait_until([&] { return d.workers().size() == 6; }, 5s));
    d.signal(SIGTERM);
    CHECK(d.wait_exit(5s) == 0);
  }
  // An autoscale error at start names the line and exits 1.
  write_file(dir.file("bad.lua"), pool_lua("a", 1, "sleep") + "autoscale 'b' { max = 2, policy = function() end }\n");
  Drover bad({dir.file("bad.lua"), "--no-shell", "-q"}, dir.file("err2"));
  CHECK(bad.wait_exit(5s) == 1);
  CHECK(read_file(dir.file("err2")).find("bad.lua:2: autoscale \"b\": no such pool (pools: a)") != std::string::npos);
  check_no_zombie_child();
}

TEST_CASE("drover binary: the config file runs once - at start and at each reload - its side effects happen once") {
  TempDir dir;
  // Its top-level code appends a line to `runs`; its pool and its policy come from the same run.
  auto config = [&](int size) {
    return "local f = assert(io.open('" + dir.file("runs") + "', 'a')) f:write('ran\\n') f:close()\n" +
           pool_lua("a", 1, "sleep") + "autoscale 'a' { every = 0.1, max = 5, cooldown = 0, policy = function() return " +
           std::to_string(size) + " end }\n";
  };
  auto runs = [&] {
    const std::string text = read_file(dir.file("runs"));
    return std::count(text.begin(), text.end(), '\n');
  };
  write_file(dir.file("pools.lua"), config(2));
  {
    Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
    INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
    // The policy sizes the pool: drover has started, the config's policies are live.
    REQUIRE(wait_until([&] { return d.workers().size() == 2; }, 5s));
    CHECK(runs() == 1);
    write_file(dir.file("pools.lua"), config(3));
    d.signal(SIGHUP);
    REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));  // the reload's policy
    CHECK(runs() == 2);
    d.signal(SIGTERM);
    CHECK(d.wait_exit(5s) == 0);
  }
  CHECK(runs() == 2);
  // In the shell too: -e runs after the start, and reload() runs the file once more.
  std::filesystem::remove(dir.file("runs"));
  Drover e({dir.file("pools.lua"), "-e", "reload()"}, dir.file("err2"));
  CHECK(e.wait_exit(10s) == 0);
  CHECK(runs() == 2);
  // A pool's busy = redis{...} is the shell's own redis{} there (a queue), read the same.
  write_file(dir.file("busy.lua"), "pool 'w' { cmd = 'sleep 60', busy = redis{ rq = 'default', url = "
                                   "'redis://127.0.0.1:1/0', timeout = 0.5 } }\n");
  Drover busy({dir.file("busy.lua"), "-e", "print(status().pools.w ~= nil)"}, dir.file("err3"));
  CHECK(busy.wait_exit(10s) == 0);
  INFO("stderr: ", read_file(dir.file("err3")));
  CHECK(read_file(dir.file("err3") + ".out") == "true\n");
  check_no_zombie_child();
}

TEST_CASE("drover binary: a log file on a full disk is said once on stderr, and drover goes on") {
  TempDir dir;
  // /dev/full takes the open and refuses every write with ENOSPC, as a full disk does.
  write_file(dir.file("pools.lua"), "pool 'talk' { cmd = { '/bin/sh', '-c', 'while :; do echo line; sleep 0.05; done' }, n = 1 }\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "--log", "/dev/full"}, dir.file("err"));
  REQUIRE(wait_until([&] { return read_file(d.err_path()).find("write failed (No space left on device)") != std::string::npos; },
                     10s));
  // Said once for the streak, not once per lost batch.
  REQUIRE(wait_until([&] { return read_file(d.err_path()).find("talk[") != std::string::npos; }, 10s));
  const std::string err = read_file(d.err_path());
  size_t said = 0;
  for (size_t at = err.find("write failed"); at != std::string::npos; at = err.find("write failed", at + 1)) ++said;
  CHECK(said == 1);
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
}

TEST_CASE("drover binary: --wait makes -e a health check - 0 once the pools settle - 1 and why when they do not") {
  TempDir dir;
  write_file(dir.file("good.lua"), pool_lua("a", 2, "sleep"));
  Drover good({dir.file("good.lua"), "--wait=20", "-e", "print(status().pools.a.running)"}, dir.file("good"));
  CHECK(good.wait_exit(30s) == 0);
  CHECK(read_file(dir.file("good.out")) == "2\n");  // -e looked after the pool settled
  write_file(dir.file("bad.lua"), pool_lua("a", 1, "sleep") + "pool 'dies' { cmd = 'false', n = 1 }\n");
  Drover bad({dir.file("bad.lua"), "--wait=2", "-e", "print('looked')"}, dir.file("bad"));
  CHECK(bad.wait_exit(30s) == 1);
  // As every -e error, on the shell's output; -e still runs after it: its output says more.
  CHECK(read_file(dir.file("bad.out")).find("not settled after 2 s: dies: 0/1 running") == 0);
  CHECK(read_file(dir.file("bad.out")).find("\nlooked\n") != std::string::npos);
  Drover wrong({dir.file("good.lua"), "--wait=soon", "-e", "1"}, dir.file("wrong"));
  CHECK(wrong.wait_exit(10s) == 2);
  CHECK(read_file(dir.file("wrong")).find("--wait=soon: seconds from 0 to 86400") != std::string::npos);
}

TEST_CASE("drover binary: write_config() over a hand-written config updates the sizes and keeps everything else") {
  TempDir dir;
  const std::string hand = "-- tuned by hand\ndefaults { grace = 1 }\n" + pool_lua("a", 1, "sleep") + pool_lua("b", 1, "sleep");
  write_file(dir.file("pools.lua"), hand);
  Drover d({dir.file("pools.lua"), "-e", "config{a=3}", "-e", "write_config()"}, dir.file("err"));
  CHECK(d.wait_exit(10s) == 0);
  std::string expected = hand;
  expected.replace(expected.find("n = 1"), 5, "n = 3");  // a's, the first
  CHECK(read_file(dir.file("pools.lua")) == expected);
  CHECK(read_file(dir.file("err.out")).find("sizes a 1 -> 3; the rest of the file is as you wrote it") != std::string::npos);
  // A pool the file does not have: nothing is written, and the error says why.
  Drover added({dir.file("pools.lua"), "--workers", "c=1", "--cmd", "sleep 60", "-e", "write_config()"}, dir.file("err2"));
  CHECK(added.wait_exit(10s) == 1);
  CHECK(read_file(dir.file("err2.out")).find("pool \"c\" is not defined") != std::string::npos);
  CHECK(read_file(dir.file("pools.lua")) == expected);
  // force: the file is replaced whole, and from then on is write_config()'s own.
  Drover forced({dir.file("pools.lua"), "-e", "write_config(nil, {force = true})"}, dir.file("err3"));
  CHECK(forced.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("pools.lua")).rfind("-- written by drover's write_config()", 0) == 0);
}
