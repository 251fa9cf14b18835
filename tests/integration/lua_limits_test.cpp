// Lua that cannot take the master down, through the real binary: a config that loops or
// allocates without end, at start and on reload; REPL chunks that do; os.exit and C calls
// in policies; TERM while any of them runs. And the config checks that go with them:
// counts that are not numbers of workers, NUL bytes, a reload that would empty drover.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "tests/support/drover_process.h"
#include "tests/support/test_util.h"

using namespace drover::test;

namespace {

using Drover = DroverProcess;
using Clock = std::chrono::steady_clock;

std::string pool_lua(const std::string& name, int n) {
  return "pool \"" + name + "\" { cmd = { \"" + fake_worker_path() + "\", \"sleep\" }, n = " + std::to_string(n) +
         " }\n";
}

std::string pools_lua() { return "defaults { grace = 1 }\n" + pool_lua("a", 2) + pool_lua("b", 1); }

// Lua that creates `marker` (so the test knows the code is running), then does `body`.
std::string after_marker(const std::string& marker, const std::string& body) {
  return "io.open('" + marker + "', 'w'):close()\n" + body + "\n";
}

constexpr const char* kLoop = "while true do end";
constexpr const char* kBomb = "local t = {} while true do t[#t + 1] = string.rep('x', 1000000) .. #t end";

bool contains(const std::string& file, const std::string& text) {
  return read_file(file).find(text) != std::string::npos;
}

bool all_catch_term(const std::vector<pid_t>& pids) {
  return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return catches_signal(p, SIGTERM); });
}

// Sends TERM and returns how long drover took to exit (or 10 s if it did not).
std::chrono::milliseconds term_to_exit(Drover& d, int* status) {
  const auto t0 = Clock::now();
  d.signal(SIGTERM);
  *status = d.wait_exit(std::chrono::milliseconds(10000));
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

}  // namespace

TEST_CASE("lua limits: a config that loops at start fails naming the file and line") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1) + "local n = 0\nwhile true do n = n + 1 end\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "--lua-time", "0.3", "--log", dir.file("log")}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  INFO("stderr: ", read_file(dir.file("err")));
  CHECK(contains(dir.file("err"), "pools.lua:3: ran past its time budget of 0.3 s"));
  CHECK_FALSE(contains(dir.file("log"), "spawned"));
}

TEST_CASE("lua limits: a config that allocates without end at start fails with not enough memory") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1) + kBomb + "\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "--lua-memory", "32", "--log", dir.file("log")}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  INFO("stderr: ", read_file(dir.file("err")));
  CHECK(contains(dir.file("err"), "pools.lua:2: not enough memory (drover's limit for Lua is 32 MB)"));
}

TEST_CASE("lua limits: TERM while the config loops at start ends drover within 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1) + after_marker(dir.file("running"), kLoop));
  Drover d({dir.file("pools.lua"), "--no-shell"}, dir.file("err"));
  REQUIRE(wait_until([&] { return access(dir.file("running").c_str(), F_OK) == 0; }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 1s);
  CHECK(status == 128 + SIGTERM);
  CHECK(contains(dir.file("err"), "drover: TERM while reading the config: stopped"));
}

TEST_CASE("lua limits: TERM while the config sits in a C call at start ends drover within 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1) + after_marker(dir.file("running"), "os.execute('sleep 5')"));
  Drover d({dir.file("pools.lua"), "--no-shell"}, dir.file("err"));
  REQUIRE(wait_until([&] { return access(dir.file("running").c_str(), F_OK) == 0; }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 1s);
  CHECK(status == 128 + SIGTERM);
}

TEST_CASE("lua limits: a reload that loops or bombs is cut off - the pools are kept and the log says so") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--lua-time", "0.3", "--lua-memory", "32", "--log",
            dir.file("log")},
           dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  const auto before = d.workers_by_pool();
  INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));

  write_file(dir.file("pools.lua"), pool_lua("a", 1) + "while true do end\n");
  d.signal(SIGHUP);
  REQUIRE(wait_until([&] { return contains(dir.file("log"), "reload-failed"); }, 5s));
  CHECK(contains(dir.file("log"), "keeping the running config: " + dir.file("pools.lua") +
                                      ":2: ran past its time budget of 0.3 s"));
  CHECK(d.workers_by_pool() == before);

  write_file(dir.file("pools.lua"), pool_lua("a", 1) + kBomb + "\n");
  d.signal(SIGHUP);
  REQUIRE(wait_until([&] { return contains(dir.file("log"), "not enough memory"); }, 5s));
  CHECK(contains(dir.file("log"), dir.file("pools.lua") + ":2: not enough memory (drover's limit for Lua is 32 MB)"));
  CHECK(d.workers_by_pool() == before);

  // Reloads still work after both.
  write_file(dir.file("pools.lua"), "defaults { grace = 1 }\n" + pool_lua("a", 1));
  d.signal(SIGHUP);
  CHECK(wait_until([&] { return d.workers().size() == 1; }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 5s);
  CHECK(status == 0);
}

TEST_CASE("lua limits: TERM during a looping reload ends drover within 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  const auto workers = d.workers();
  REQUIRE(wait_until([&] { return all_catch_term(workers); }, 3s));
  write_file(dir.file("pools.lua"), pools_lua() + after_marker(dir.file("running"), kLoop));
  d.signal(SIGHUP);
  REQUIRE(wait_until([&] { return access(dir.file("running").c_str(), F_OK) == 0; }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 1s);
  CHECK(status == 0);
  CHECK(all_dead(workers));
}

TEST_CASE("lua limits: TERM while a REPL chunk loops ends drover within 1 s") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Drover d({dir.file("pools.lua"), "-e", after_marker(dir.file("running"), kLoop)}, dir.file("err"));
  REQUIRE(wait_until([&] { return access(dir.file("running").c_str(), F_OK) == 0; }, 5s));
  REQUIRE(wait_until([&] { return d.workers().size() == 3 && all_catch_term(d.workers()); }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 1s);
  CHECK(status != -1);
}

TEST_CASE("lua limits: a REPL chunk that allocates without end is cut off and the shell goes on") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pool_lua("a", 1));
  Drover d({dir.file("pools.lua"), "--lua-memory", "32", "-e", kBomb, "-e", "'still here'"}, dir.file("err"));
  CHECK(d.wait_exit(10s) == 1);  // one of the chunks failed
  const std::string out = read_file(dir.file("err") + ".out");
  INFO("stdout: ", out, "\nstderr: ", read_file(dir.file("err")));
  CHECK(out.find("(command line):1: not enough memory (drover's limit for Lua is 32 MB)") != std::string::npos);
  CHECK(out.find("still here") != std::string::npos);
}

TEST_CASE("lua limits: os.exit in a policy is an error in the log - drover goes on - TERM stops it gracefully") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             pools_lua() + "autoscale 'a' { every = 0.1, max = 4, policy = function(m) os.exit(3) end }\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
  REQUIRE(wait_until([&] { return contains(dir.file("log"), "os.exit is not available"); }, 5s));
  CHECK(contains(dir.file("log"), "pools.lua:4: os.exit is not available in a config file or a policy"));
  CHECK(d.workers().size() == 3);
  const auto workers = d.workers();
  REQUIRE(wait_until([&] { return all_catch_term(workers); }, 3s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 5s);
  CHECK(status == 0);
  CHECK(contains(dir.file("log"), "shutdown-finished"));
}

TEST_CASE("lua limits: os.exit in the shell is exit() - a graceful stop") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Drover d({dir.file("pools.lua"), "--log", dir.file("log"), "-e", "os.exit(3)"}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 0);
  CHECK(contains(dir.file("log"), "shutdown-finished"));
}

TEST_CASE("lua limits: a policy that overruns its budget inside C code is reported and counted") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             pools_lua() + "autoscale 'a' { every = 0.1, timeout = 0.05, max = 4, "
                           "policy = function(m) os.execute('sleep 0.2') end }\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  INFO("log: ", read_file(dir.file("log")));
  CHECK(wait_until([&] { return contains(dir.file("log"), "past its time budget of 0.05 s, inside a C function"); },
                   5s));
  CHECK(contains(dir.file("log"), "a policy-warning: policy took 0."));
}

TEST_CASE("lua limits: TERM while a policy sits in a C call holding the Lua lock ends drover") {
  TempDir dir;
  write_file(dir.file("pools.lua"),
             pools_lua() + "autoscale 'a' { every = 0.1, max = 4, policy = function(m) " +
                 after_marker(dir.file("running"), "os.execute('sleep 10')") + " end }\n");
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return access(dir.file("running").c_str(), F_OK) == 0; }, 5s));
  const auto workers = d.workers();
  REQUIRE(wait_until([&] { return all_catch_term(workers); }, 3s));
  int status = 0;
  // The workers stop at once; drover then gives Lua 0.5 s and exits without it.
  CHECK(term_to_exit(d, &status) < 2s);
  CHECK(status == 0);
  CHECK(all_dead(workers));
  CHECK(contains(dir.file("err"), "Lua is stuck in a C function"));
}

TEST_CASE("lua limits: counts that are not numbers of workers are refused - not read as 0") {
  TempDir dir;
  for (const std::string bad : {"math.huge", "-math.huge", "0/0", "2.5", "1e300"}) {
    write_file(dir.file("pools.lua"), "pool 'a' { cmd = 'x', n = " + bad + " }\n");
    Drover d({dir.file("pools.lua"), "--no-shell"}, dir.file("err"));
    CHECK(d.wait_exit(5s) == 1);
    INFO(bad, ": ", read_file(dir.file("err")));
    CHECK(contains(dir.file("err"), "pools.lua:1: pool \"a\": n "));
  }
  // config{} and log.tail{n = ...} in the shell, too.
  write_file(dir.file("pools.lua"), pool_lua("a", 1));
  Drover d({dir.file("pools.lua"), "-e", "config{ a = math.huge }", "-e", "log.tail{ n = math.huge }", "-e",
            "log.tail{ n = 0/0 }"},
           dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  const std::string out = read_file(dir.file("err") + ".out");
  INFO("stdout: ", out);
  CHECK(out.find("config: a = inf is out of range") != std::string::npos);
  CHECK(out.find("n must be a whole number of lines >= 0, got inf") != std::string::npos);
  CHECK((out.find("lines >= 0, got -nan") != std::string::npos || out.find("lines >= 0, got nan") != std::string::npos));
}

TEST_CASE("lua limits: NUL bytes in cmd or env are refused - not cut") {
  TempDir dir;
  write_file(dir.file("pools.lua"), "pool 'a' { cmd = { '/bin/echo', 'a\\0b' }, n = 1 }\n");
  Drover d({dir.file("pools.lua"), "--no-shell"}, dir.file("err"));
  CHECK(d.wait_exit(5s) == 1);
  CHECK(contains(dir.file("err"), "pools.lua:1: pool \"a\": cmd[2] holds a NUL byte"));
  write_file(dir.file("env.lua"), "pool 'a' { cmd = '/bin/true', n = 1,\n env = { X = 'a\\0b' } }\n");
  Drover e({dir.file("env.lua"), "--no-shell"}, dir.file("err2"));
  CHECK(e.wait_exit(5s) == 1);
  CHECK(contains(dir.file("err2"), "env.lua:1: pool \"a\": env X holds a NUL byte"));
}

TEST_CASE("lua limits: a reload that would remove every pool is refused unless the config says no_pools()") {
  TempDir dir;
  write_file(dir.file("pools.lua"), pools_lua());
  Drover d({dir.file("pools.lua"), "--no-shell", "-q", "--log", dir.file("log")}, dir.file("err"));
  REQUIRE(wait_until([&] { return d.workers().size() == 3; }, 5s));
  const auto before = d.workers_by_pool();
  INFO("log: ", read_file(dir.file("log")), "\nstderr: ", read_file(dir.file("err")));
  write_file(dir.file("pools.lua"), "");
  d.signal(SIGHUP);
  REQUIRE(wait_until([&] { return contains(dir.file("log"), "reload-failed"); }, 5s));
  CHECK(contains(dir.file("log"), "defines no pool, and a reload would remove every running pool: refused"));
  CHECK(d.workers_by_pool() == before);
  write_file(dir.file("pools.lua"), "no_pools()\n");
  d.signal(SIGHUP);
  CHECK(wait_until([&] { return d.workers().empty(); }, 5s));
  int status = 0;
  CHECK(term_to_exit(d, &status) < 5s);
  CHECK(status == 0);
}
