// The seeds' config formats through the real binary (issue 3): resque-pool's YAML under
// `drover -c`, workerpoolmanager's JSON under `drover --wpm-config`, each with --no-shell
// as a service runs them. What is checked is what a worker sees (its pool, QUEUE, QUEUES,
// DROVER_HEARTBEAT in /proc/PID/environ) and how many there are; the loaders' rules are
// unit-tested in tests/unit/{resque_pool,wpm}_config_test.cpp. Heartbeats themselves are
// not exercised here.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

extern char** environ;

using namespace drover::test;

namespace {

// Without the variables that would pick a section or a queue for drover behind the test's back.
struct Drover : DroverProcess {
  Drover(const std::vector<std::string>& args, const std::string& err, const std::map<std::string, std::string>& env = {})
      : DroverProcess(args, err, env, {"RACK_ENV", "RAILS_ENV", "RESQUE_ENV", "QUEUES", "NOTIFY_SOCKET"}) {}
};

// Someone listens on 127.0.0.1:port (our own bind fails with EADDRINUSE).
bool port_taken(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool taken = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == EADDRINUSE;
  close(fd);
  return taken;
}

// A task file as a workerpoolmanager user writes one: a script that just sleeps.
void write_task(const TempDir& dir, const std::string& file, mode_t mode = 0755) {
  const std::string path = dir.file("tasks/" + file);
  write_file(path, "#!/bin/sh\n# a task that does nothing, slowly\nexec sleep 1000\n");
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

void check_no_zombie_child() { CHECK(zombie_children_of(getpid()).empty()); }

constexpr const char* kResquePool = R"(# top level: every environment
foo: 1
"foo,bar": 1
baz: 2
production:
  "foo,bar": 2
  quux: 1
  baz: 0
development:
  foo: 5
)";

}  // namespace

TEST_CASE("seed configs: -c resque-pool.yml - RACK_ENV picks the section - each pool's workers get its QUEUE") {
  TempDir dir;
  write_file(dir.file("resque-pool.yml"), kResquePool);
  // RACK_ENV comes before RAILS_ENV: production, not development.
  Drover d({"-c", dir.file("resque-pool.yml"), "--cmd", std::string(fake_worker_path()) + " env", "--no-shell", "-q",
            "--log", dir.file("log")},
           dir.file("err"), {{"RACK_ENV", "production"}, {"RAILS_ENV", "development"}, {"QUEUES", "inherited"}});
  const std::map<std::string, size_t> expected{{"foo", 1}, {"foo,bar", 2}, {"quux", 1}};  // baz: 0
  REQUIRE(wait_until([&] { return d.counts() == expected; }, 5s));
  for (const auto& [pool, pids] : d.workers_by_pool()) {
    for (pid_t w : pids) {
      CHECK(proc_exe(w).find("fake_worker") != std::string::npos);
      CHECK(proc_env(w, "QUEUE") == pool);
      CHECK(proc_env(w, "QUEUES") == pool);  // not drover's own "inherited"
    }
  }
  // The workers say so themselves (fake_worker env prints its QUEUE).
  CHECK(wait_until([&] {
    const std::string log = read_file(dir.file("log"));
    return log.find("QUEUE=foo,bar") != std::string::npos && log.find("QUEUE=quux") != std::string::npos;
  }, 3s));

  // SIGHUP re-reads the YAML: production's quux grows, baz comes up, foo,bar's survive.
  const std::vector<pid_t> foobar = d.workers_by_pool()["foo,bar"];
  std::string grown = kResquePool;
  grown.replace(grown.find("  quux: 1\n  baz: 0"), std::strlen("  quux: 1\n  baz: 0"), "  quux: 3\n  baz: 1");
  write_file(dir.file("resque-pool.yml"), grown);
  d.signal(SIGHUP);
  const std::map<std::string, size_t> after{{"baz", 1}, {"foo", 1}, {"foo,bar", 2}, {"quux", 3}};
  CHECK(wait_until([&] { return d.counts() == after; }, 5s));
  auto survivors = d.workers_by_pool()["foo,bar"];
  std::sort(survivors.begin(), survivors.end());
  CHECK(survivors == foobar);

  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  check_no_zombie_child();
}

TEST_CASE("seed configs: -c without --cmd runs resque's rake resque:work - with no RACK_ENV the top level") {
  TempDir dir;
  write_file(dir.file("resque-pool.yml"), kResquePool);
  // `rake` may not exist here: what counts is the command drover would run, shown by the
  // shell's status without waiting for any worker.
  Drover d({"-c", dir.file("resque-pool.yml"), "-e",
            "local p = status().pools print(p.foo.n, p['foo,bar'].n, p.baz.n, p.quux == nil)"},
           dir.file("err"));
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err.out")) == "1\t1\t2\ttrue\n");
  check_no_zombie_child();
}

TEST_CASE("seed configs: --wpm-config runs the autotask with its cardinality - the other tasks stay stopped") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("tasks"));
  write_task(dir, "SleepTask.sh");
  write_task(dir, "OtherTask.sh");
  write_task(dir, "BaseTask.sh", 0644);  // not executable: fine, it never starts
  write_task(dir, "notes.txt");          // not a task: wrong suffix
  const int port = free_port();
  // "port": 0 is any free port: HTTP is served on it (stderr says which), on loopback.
  write_file(dir.file("tasks.json"), R"({"port": 0,
    "keepalives": {"host": "localhost", "inbound_port": )" + std::to_string(port) + R"(,
                   "stall_timeout": 60000, "grace_period": 1000},
    "pidfile": ")" + dir.file("wpm.pid") + R"(",
    "path": "tasks/", "filesuffix": "Task.sh",
    "autotasks": {"Sleep": {"cardinality": 3, "capture_output": true}}})");
  // drover runs in the test's cwd: "tasks/" is found next to the JSON all the same.
  const std::string pidfile = dir.file("wpm.pid");
  // The config's port is an HTTP listener, which always takes a token.
  Drover d({"--wpm-config", dir.file("tasks.json"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"),
           {{"DROVER_HTTP_TOKEN", "seed-configs-test-token-0123456789"}});
  REQUIRE(wait_until([&] { return d.counts() == std::map<std::string, size_t>{{"Sleep", 3}}; }, 5s));
  const std::string sleep_exe = std::filesystem::canonical("/bin/sleep");
  const std::vector<pid_t> sleeps = d.workers_by_pool()["Sleep"];  // a copy: the map is a temporary
  for (pid_t w : sleeps) {
    CHECK(wait_until([&] { return proc_exe(w) == sleep_exe; }, 2s));  // the task file ran, and exec'd
    CHECK(proc_env(w, "QUEUE") == "Sleep");
    CHECK(proc_env(w, "DROVER_HEARTBEAT") == "tcp://127.0.0.1:" + std::to_string(port));
  }
  CHECK(port_taken(port));
  const int http = d.http_port();
  CHECK(http > 0);
  CHECK(read_file(dir.file("err")).find("drover: serving http://127.0.0.1:" + std::to_string(http) + "/") !=
        std::string::npos);
  CHECK(wait_until([&] {
    const std::string log = read_file(dir.file("log"));
    return log.find("Other pool-added: n=1 (stopped until start)") != std::string::npos &&
           log.find("Base pool-added: n=1 (stopped until start)") != std::string::npos;
  }, 2s));
  CHECK(read_file(pidfile) == std::to_string(d.pid()) + "\n");
  // Still only the autotask's, a while later.
  CHECK(d.counts() == std::map<std::string, size_t>{{"Sleep", 3}});

  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  CHECK_FALSE(std::filesystem::exists(pidfile));
  check_no_zombie_child();
}

TEST_CASE("seed configs: --wpm-config - a stopped task comes up on start with its cardinality") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("tasks"));
  write_task(dir, "SleepTask.sh");
  write_task(dir, "OtherTask.sh");
  write_file(dir.file("tasks.json"), R"({"keepalives": {"inbound_port": )" + std::to_string(free_port()) +
                                         R"(}, "path": "tasks", "filesuffix": "Task.sh", "autotasks": {"Sleep": {}}})");
  Drover d({"--wpm-config", dir.file("tasks.json"), "-e", "local p = status().pools print(p.Sleep.n, p.Other.n, p.Other.target)",
            "-e", "start 'Other'", "-e", "print(status().pools.Other.target)"},
           dir.file("err"));
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err.out")) == "1\t1\t0\ntrue\n1\n");  // start() returns true
  check_no_zombie_child();
}

TEST_CASE("seed configs: --heartbeat next to --wpm-config - workers get the first - the config's port is bound too") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("tasks"));
  write_task(dir, "SleepTask.sh");
  const int port = free_port();
  write_file(dir.file("tasks.json"), R"({"keepalives": {"inbound_port": )" + std::to_string(port) +
                                         R"(}, "path": "tasks", "filesuffix": "Task.sh", "autotasks": {"Sleep": {}}})");
  const std::string mine = "ipc://" + dir.file("hb.sock");
  Drover d({"--wpm-config", dir.file("tasks.json"), "--heartbeat", mine, "--no-shell", "-q"}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.counts() == std::map<std::string, size_t>{{"Sleep", 1}}; }, 5s));
  CHECK(proc_env(d.workers_by_pool()["Sleep"][0], "DROVER_HEARTBEAT") == mine);
  CHECK(port_taken(port));
  d.signal(SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  check_no_zombie_child();
}

TEST_CASE("seed configs: bad files and flags exit before anything starts - naming the problem") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("tasks"));
  write_task(dir, "SleepTask.sh");
  auto run = [&](const std::vector<std::string>& args, int want) {
    Drover d(args, dir.file("err"));
    CHECK(d.wait_exit(10s) == want);
    return read_file(dir.file("err"));
  };
  write_file(dir.file("tasks.json"), R"({"path": "tasks", "filesuffix": "Task.sh", "autotasks": {"Nope": {}}})");
  CHECK(run({"--wpm-config", dir.file("tasks.json"), "--no-shell"}, 1)
            .find("tasks.json: autotasks.Nope: cannot find task Nope") != std::string::npos);
  write_file(dir.file("tasks.json"), "{\"path\": \"tasks\",\n \"filesuffix\": \"Task.sh\" \"autotasks\": {}}");
  CHECK(run({"--wpm-config", dir.file("tasks.json"), "--no-shell"}, 1).find("tasks.json:2:") != std::string::npos);
  write_file(dir.file("pool.yml"), "foo: 1\nproduction:\n  foo: x\n");
  Drover bad_env({"-c", dir.file("pool.yml"), "--cmd", "sleep 100", "--no-shell"}, dir.file("err"),
                 {{"RESQUE_ENV", "production"}});
  CHECK(bad_env.wait_exit(10s) == 1);
  CHECK(read_file(dir.file("err")).find("pool.yml:3: \"foo\": count 'x' must be a whole number") != std::string::npos);
  // A pool given twice, by a Lua config and the YAML.
  write_file(dir.file("pools.lua"), "pool \"foo\" { cmd = \"sleep 100\" }\n");
  write_file(dir.file("pool.yml"), "foo: 1\n");
  CHECK(run({dir.file("pools.lua"), "-c", dir.file("pool.yml"), "--cmd", "sleep 100", "--no-shell"}, 1)
            .find("\"foo\" is defined twice") != std::string::npos);
  CHECK(run({dir.file("pools.lua"), "--cmd", "sleep 100", "--no-shell"}, 2).find("--cmd is the command of") !=
        std::string::npos);
  check_no_zombie_child();
}
