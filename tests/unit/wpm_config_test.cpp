#include "config/wpm_config.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace drover;

namespace {

// A config dir with task files, removed with everything in it.
class TaskDir {
 public:
  TaskDir() {
    char tmpl[] = "/tmp/drover-wpm-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    root_ = tmpl;
    std::filesystem::create_directory(root_ + "/tasks");
  }
  ~TaskDir() { std::filesystem::remove_all(root_); }
  void task(const std::string& file, bool exec = true) const {
    std::string p = root_ + "/tasks/" + file;
    std::ofstream(p) << "#!/bin/sh\nexec sleep 100\n";
    chmod(p.c_str(), exec ? 0755 : 0644);
  }
  std::string config(const std::string& json) const {
    std::string p = root_ + "/tasks.json";
    std::ofstream(p) << json;
    return p;
  }
  std::string tasks() const { return root_ + "/tasks"; }

 private:
  std::string root_;
};

std::string error_of(const Result<WpmConfig>& r) { return r ? "" : r.error().message(); }

const PoolSpec& pool(const WpmConfig& c, const std::string& name) {
  for (const auto& p : c.pools)
    if (p.name == name) return p;
  FAIL("no pool " << name);
  throw;
}

}  // namespace

TEST_CASE("wpm config: tasks are discovered by suffix - autotasks start - the rest wait") {
  TaskDir d;
  d.task("ExampleTask.php");
  d.task("FailingTask.php");
  d.task("README.md");
  d.task("Task.php");  // the suffix alone names nothing
  auto c = load_wpm_config(d.config(R"({
    "port": 8011,
    "keepalives": {"host": "localhost", "inbound_port": 6001, "stall_timeout": 10000, "grace_period": 1500},
    "path": "tasks/", "filesuffix": "Task.php",
    "autotasks": {"Example": {"cardinality": 3, "capture_output": true}}
  })"));
  REQUIRE(c);
  REQUIRE(c->pools.size() == 2);
  CHECK(c->http_port == 8011);
  CHECK(c->heartbeat_endpoint == "tcp://127.0.0.1:6001");
  const PoolSpec& ex = pool(*c, "Example");
  CHECK(ex.autostart);
  CHECK(ex.n == 3);
  CHECK(ex.argv == std::vector<std::string>{d.tasks() + "/ExampleTask.php"});
  CHECK(ex.heartbeat == HeartbeatPolicy{.timeout_s = 10, .require = true});
  CHECK(ex.grace_s == doctest::Approx(1.5));
  CHECK(ex.stop_signal == 15);
  const PoolSpec& failing = pool(*c, "Failing");
  CHECK_FALSE(failing.autostart);
  CHECK(failing.n == 1);
}

TEST_CASE("wpm config: defaults as workerpoolmanager's - 60 s stall - 100 ms grace - port 5591") {
  TaskDir d;
  d.task("aTask.sh");
  auto c = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "keepalives": {"stall_timeout": 0}})"));
  REQUIRE(c);
  CHECK(c->heartbeat_endpoint == "tcp://127.0.0.1:5591");
  CHECK_FALSE(c->http_port);  // no "port": no HTTP
  CHECK(c->pools[0].heartbeat.timeout_s == 60);
  CHECK(c->pools[0].grace_s == doctest::Approx(0.1));
  CHECK_FALSE(c->pools[0].autostart);
}

TEST_CASE("wpm config: an autotask overrides cmd - args - stall and grace") {
  TaskDir d;
  d.task("JobTask.php", /*exec=*/false);  // not executable: fine when a cmd is given
  auto c = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
    "autotasks": {"Job": {"cmd": "/usr/bin/php", "args": ["job.php", "--fast"], "stall_timeout": 2000,
                          "grace_period": 300}}})"));
  REQUIRE(c);
  const PoolSpec& job = pool(*c, "Job");
  CHECK(job.argv == std::vector<std::string>{"/usr/bin/php", "job.php", "--fast"});
  CHECK(job.heartbeat.timeout_s == 2);
  CHECK(job.grace_s == doctest::Approx(0.3));
  CHECK(job.n == 1);
}

TEST_CASE("wpm config: errors name the file and the key") {
  TaskDir d;
  d.task("ATask.php");
  d.task("BTask.php", /*exec=*/false);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"Nope": {}}})"))).find("autotasks.Nope: cannot find task Nope") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"B": {}}})"))).find("BTask.php is not executable") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"filesuffix": "Task.php"})"))).find("path: is required") !=
        std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "nowhere", "filesuffix": "Task.php"})")))
            .find("is not a directory") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": ".none"})")))
            .find("no task files ending in \".none\"") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "keepalives": {"stall_timeout": "10s"}})"))).find("keepalives.stall_timeout: must be a whole number") !=
        std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "keepalives": {"inbound_port": 70000}})"))).find("inbound_port: must be a port") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"A": {"args": "x"}}})"))).find("autotasks.A.args: must be a list of strings") !=
        std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"A": {"cardinality": 10001}}})"))).find("autotasks.A.cardinality: 10001 is out of range") !=
        std::string::npos);
  CHECK(error_of(load_wpm_config(d.tasks() + "/missing.json")).find("cannot read") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config("[1, 2]"))).find("must be an object") != std::string::npos);
}

TEST_CASE("wpm config: the shipped example loads") {
  auto c = load_wpm_config(std::string(DROVER_SOURCE_DIR) + "/examples/wpm/tasks.json");
  REQUIRE(c);
  CHECK(pool(*c, "Example").autostart);
  CHECK(pool(*c, "Example").n == 2);
  CHECK_FALSE(pool(*c, "Idle").autostart);
}

TEST_CASE("wpm config: a syntax error names the line - the column and the byte") {
  TaskDir d;
  // The missing ',' after "Task.php": the parser stops at the end of the next key, the
  // closing quote of "autotasks" on line 4, column 13.
  const std::string text = "{\n  \"path\": \"tasks\",\n  \"filesuffix\": \"Task.php\"\n  \"autotasks\": {}\n}";
  const std::string bad = d.config(text);
  const std::string err = error_of(load_wpm_config(bad));
  CHECK(err.find(bad + ":4:13: syntax error while parsing object - unexpected string literal") == 0);
  CHECK(err.find("(byte offset " + std::to_string(text.find("\"autotasks\"") + 10) + ")") != std::string::npos);
  CHECK(err.find("[json.exception") == std::string::npos);  // nlohmann's prefix is not ours to show
  CHECK(error_of(load_wpm_config(d.config(""))).find(":1:1: ") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config("{\"path\": \"tasks\",}"))).find(":1:18: ") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config("{\"path\":\n  \"tasks\""))).find(":2:10: ") != std::string::npos);  // at the end
}

TEST_CASE("wpm config: tasks that do not start may be any file - only the started ones must be executable") {
  TaskDir d;
  d.task("RunTask.sh");
  d.task("BaseTask.sh", /*exec=*/false);  // a library the others source: never run
  auto c = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "autotasks": {"Run": {}}})"));
  REQUIRE(c);
  CHECK(pool(*c, "Run").autostart);
  CHECK_FALSE(pool(*c, "Base").autostart);
  CHECK(pool(*c, "Base").n == 1);  // kept for start "Base"
}

TEST_CASE("wpm config: pidfile - port and a keep-alive host other than localhost are kept as written") {
  TaskDir d;
  d.task("aTask.sh");
  auto c = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "port": 9000,
    "pidfile": "/var/run/php.d/example.pid", "keepalives": {"host": "0.0.0.0", "inbound_port": 7000}})"));
  REQUIRE(c);
  CHECK(c->pidfile == "/var/run/php.d/example.pid");
  CHECK(c->http_port == 9000);
  CHECK(c->heartbeat_endpoint == "tcp://0.0.0.0:7000");
  auto plain = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "keepalives": {"host": "127.0.0.1"}})"));
  REQUIRE(plain);
  CHECK(plain->pidfile.empty());
  CHECK(plain->heartbeat_endpoint == "tcp://127.0.0.1:5591");
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "port": 80000})")))
            .find("port: must be a port") != std::string::npos);
  // The key named once, at the top level; 0 is a port (any free one).
  const std::string text_port = d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "port": "8010"})");
  CHECK(error_of(load_wpm_config(text_port)) == text_port + ": port: must be a whole number >= 0, got \"8010\"");
  auto any = load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.sh", "port": 0})"));
  REQUIRE(any);
  CHECK(any->http_port == 0);
}

TEST_CASE("wpm config: a key given twice in one object is refused and named by its path") {
  TaskDir d;
  d.task("ATask.php");
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php", "path": "other"})")))
            .find(": duplicate key \"path\"; keep one") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"A": {"stall_timeout": 1, "stall_timeout": 2}}})"))).find("duplicate key \"autotasks.A.stall_timeout\"") != std::string::npos);
  CHECK(error_of(load_wpm_config(d.config(R"({"path": "tasks", "filesuffix": "Task.php",
      "autotasks": {"A": {}}, "x": [{"k": 1}, {"k": 2}]})"))).find("duplicate") == std::string::npos);
}
