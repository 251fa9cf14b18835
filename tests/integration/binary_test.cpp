// The real drover binary, as an operator runs it: config file, signals, kill -9.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "tests/support/test_util.h"

extern char** environ;

using namespace drover::test;

namespace {

struct Drover {
  pid_t pid = -1;
  std::string err_path;

  Drover(const std::vector<std::string>& args, const std::string& err) : err_path(err) {
    std::vector<std::string> argv{drover_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, (err + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(posix_spawn(&pid, drover_path(), &fa, nullptr, cargv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Drover() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // Exit status, or -1 on timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    int status = 0;
    bool done = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
    if (!done) return -1;
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  // drover's children that run fake_worker (not the orphan guard, which is drover too).
  std::vector<pid_t> workers() const {
    std::vector<pid_t> out;
    for (pid_t c : children_of(pid))
      if (proc_exe(c).find("fake_worker") != std::string::npos) out.push_back(c);
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string pools_lua(int n_a, int n_b, const std::string& mode = "sleep") {
  return "defaults { grace = 1 }\n"
         "pool \"a\" { cmd = { \"" + std::string(fake_worker_path()) + "\", \"" + mode + "\" }, n = " +
         std::to_string(n_a) + " }\n"
         "pool \"b\" { cmd = { \"" + fake_worker_path() + "\", \"" + mode + "\" }, n = " + std::to_string(n_b) + " }\n";
}

}  // namespace

TEST_CASE("drover binary: SIGTERM stops every worker and exits 0") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 1));
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log"), "--pid-file", dir.file("pid")},
           dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  auto workers = d.workers();
  CHECK(std::stoi(read_file(dir.file("pid"))) == d.pid);
  kill(d.pid, SIGTERM);
  CHECK(d.wait_exit(5s) == 0);
  for (pid_t w : workers) CHECK_FALSE(pid_alive(w));
  CHECK(access(dir.file("pid").c_str(), F_OK) != 0);  // pid file removed
  CHECK(read_file(dir.file("log")).find("shutdown-finished") != std::string::npos);
}

TEST_CASE("drover binary: kill -9 of drover leaves no worker and no grandchild after 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 2, "fork-child"));
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 4; }, 5s));
  std::vector<pid_t> doomed = d.workers();
  for (pid_t w : std::vector<pid_t>(doomed)) {
    REQUIRE(wait_until([&] { return !children_of(w).empty(); }, 3s));
    doomed.push_back(children_of(w)[0]);
  }
  REQUIRE(doomed.size() == 8);
  kill(d.pid, SIGKILL);
  CHECK(d.wait_exit(2s) == 128 + SIGKILL);
  bool all_gone = wait_until([&] {
    return std::none_of(doomed.begin(), doomed.end(), [](pid_t p) { return pid_alive(p); });
  }, 1s);
  CHECK(all_gone);
}

TEST_CASE("drover binary: SIGHUP reloads the config live - survivors keep their pids") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 1));
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  auto before = d.workers();
  write_file(dir.file("pools.lua"), pools_lua(4, 1));
  kill(d.pid, SIGHUP);
  INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
  REQUIRE(wait_until([&] { return d.workers().size() == 5; }, 5s));
  auto after = d.workers();
  for (pid_t p : before) CHECK(std::count(after.begin(), after.end(), p) == 1);
  // A broken config on reload changes nothing and says why.
  write_file(dir.file("pools.lua"), "pool \"a\" { cmd = 'x', n = 'many' }\n");
  kill(d.pid, SIGHUP);
  REQUIRE(wait_until([&] { return read_file(dir.file("err")).find("reload failed") != std::string::npos; }, 5s));
  CHECK(read_file(dir.file("err")).find("pools.lua:1:") != std::string::npos);
  CHECK(d.workers() == after);
  kill(d.pid, SIGTERM);
  CHECK(d.wait_exit(5s) == 0);
}

TEST_CASE("drover binary: a config error exits 1 and names the file and line") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool \"a\" { cmd = 'sleep 1', n = 1 }\npool \"b\" { cmd = 'sleep 1', nn = 2 }\n");
  Drover d({dir.file("pools.lua"), "--no-shell"}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  std::string err = read_file(dir.file("err"));
  CHECK(err.find("pools.lua:2:") != std::string::npos);
  CHECK(err.find("nn") != std::string::npos);
}

TEST_CASE("drover binary: --workers spec string with a command template") {
  TempDir dir;
  Drover d({"--workers", "a=2:b,c=1", "--cmd", std::string(fake_worker_path()) + " env", "--no-shell", "-q", "--log",
            dir.file("log")},
           dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  REQUIRE(wait_until([&] { return read_file(dir.file("log")).find("QUEUE=b,c") != std::string::npos; }, 3s));
  CHECK(read_file(dir.file("log")).find("b,c[") != std::string::npos);
  kill(d.pid, SIGINT);  // --no-shell: Ctrl-C stops gracefully too
  CHECK(d.wait_exit(5s) == 0);
}

TEST_CASE("drover binary: a bad --workers spec names the token") {
  TempDir dir;
  Drover d({"--workers", "a=2:b=x", "--cmd", "sleep 1", "--no-shell"}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  std::string err = read_file(dir.file("err"));
  CHECK(err.find("'b=x'") != std::string::npos);
  CHECK(err.find("column 7") != std::string::npos);
}

TEST_CASE("drover binary: examples/pools.lua runs as it is") {
  TempDir dir;
  Drover d({std::string(DROVER_SOURCE_DIR) + "/examples/pools.lua", "--no-shell", "-q", "--log", dir.file("log")},
           dir.file("err"));
  bool ticking = wait_until([&] { return read_file(dir.file("log")).find("ticker worker 1: tick 1") != std::string::npos; }, 10s);
  bool working = wait_until([&] { return read_file(dir.file("log")).find("job 1 started") != std::string::npos; }, 10s);
  CHECK(ticking);
  CHECK(working);
  kill(d.pid, SIGTERM);
  CHECK(d.wait_exit(10s) == 0);
  INFO(read_file(dir.file("log")));
  CHECK(read_file(dir.file("log")).find("TERM, finishing up") != std::string::npos);
}

TEST_CASE("drover binary: -e runs Lua against the engine and stops; write_config round-trips") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua(2, 1));
  Drover d({dir.file("pools.lua"), "-e", "config{a=3}", "-e", "print(status().pools.a.n)", "-e",
            "write_config('" + dir.file("written.lua") + "')"},
           dir.file("err"));
  CHECK(d.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err.out")).find("3\n") != std::string::npos);  // -e prints
  std::string written = read_file(dir.file("written.lua"));
  CHECK(written.find("pool \"a\"") != std::string::npos);
  CHECK(written.find("n = 3") != std::string::npos);
  CHECK(written.find("n = 1") != std::string::npos);
  // The written file is a config drover loads.
  Drover again({dir.file("written.lua"), "-e", "print(config().a + config().b)"}, dir.file("err2"));
  CHECK(again.wait_exit(10s) == 0);
  CHECK(read_file(dir.file("err2.out")) == "4\n");
  Drover bad({dir.file("pools.lua"), "-e", "config{a=-1}"}, dir.file("err3"));
  CHECK(bad.wait_exit(10s) == 1);
  CHECK(read_file(dir.file("err3.out")).find("out of range") != std::string::npos);
}
