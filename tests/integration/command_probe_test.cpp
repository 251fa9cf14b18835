// CommandProbe with real shells: numbers in output, exit codes with their stderr, the
// timeout kill, and nothing left behind (no process of the group, no zombie).
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "autoscale/command_probe.h"
#include "tests/support/test_util.h"

using namespace drover;
using namespace drover::test;

namespace {

using Steady = std::chrono::steady_clock;

QueueReading run_line(const std::string& line, double timeout_s = 5.0, const std::string& cwd = "") {
  auto p = make_command_probe(line, timeout_s, cwd);
  REQUIRE(p);
  return (*p)->read();
}

double depth_of(const std::string& line) {
  QueueReading r = run_line(line);
  INFO(line, " -> error: ", r.error);
  REQUIRE(r.depth);
  CHECK(r.error.empty());
  CHECK_FALSE(r.inflight);
  return *r.depth;
}

// Processes of group pgid that are not zombies, from /proc/*/stat.
std::vector<pid_t> live_members(pid_t pgid) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = read_file(entry.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = '?';
    pid_t ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') out.push_back(std::stoi(name));
  }
  return out;
}

// Nothing of the probe's process group is left running, and its leader (the shell) is
// reaped. kill(-pgid, 0) == ESRCH would say both at once, but only where init reaps
// orphans at once: the killed background jobs are orphans, and this machine's PID 1
// leaves them zombies. Hence the scan for live members and the leader checked alone.
bool group_gone(pid_t pgid) {
  return wait_until([&] { return live_members(pgid).empty(); }, std::chrono::milliseconds(1000)) &&
         kill(pgid, 0) == -1 && errno == ESRCH;
}

pid_t pid_from(const std::string& path) {
  std::string text = read_file(path);
  REQUIRE_FALSE(text.empty());
  return static_cast<pid_t>(std::stol(text));
}

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

}  // namespace

TEST_CASE("command probe: the first number of stdout, blanks skipped") {
  CHECK(depth_of("echo 42") == 42);
  CHECK(depth_of("printf ' 17 jobs'") == 17);
  CHECK(depth_of("printf '\\n\\t 2.5\\n'") == 2.5);
  CHECK(depth_of("echo 0") == 0);
  CHECK(depth_of("echo 12abc; echo 99") == 12);
  CHECK(depth_of("echo 7; echo noise >&2") == 7);  // stderr alone is no failure
  auto p = make_command_probe("redis-cli llen q");
  REQUIRE(p);
  CHECK((*p)->describe() == "command 'redis-cli llen q'");
}

TEST_CASE("command probe: exit codes, signals and output without a number are errors") {
  QueueReading three = run_line("echo 'ERR unknown queue' >&2; echo second line >&2; exit 3");
  CHECK_FALSE(three.depth);
  CHECK(three.error == "exit 3: ERR unknown queue");
  CHECK(run_line("exit 2").error == "exit 2");
  CHECK(run_line("echo 5; exit 1").error == "exit 1");  // a number, but the command failed
  CHECK(run_line("kill -TERM $$").error == "signal 15 (TERM)");
  CHECK(run_line("no-such-command-here").error == "exit 127: /bin/sh: 1: no-such-command-here: not found");
  CHECK(run_line("echo jobs: 12").error == "no number in output 'jobs: 12'");
  CHECK(run_line("true").error == "no output (expected a number)");
  CHECK(run_line("echo inf").error == "no number in output 'inf'");
  CHECK(run_line("echo -3").error == "negative depth -3 in output");
}

TEST_CASE("command probe: past the timeout the whole group is killed and reaped") {
  TempDir dir;
  const auto start = Steady::now();
  QueueReading r = run_line("echo $$ > " + dir.file("pid") + "; sleep 10 & sleep 10", 0.3);
  const double took = seconds_since(start);
  CHECK_FALSE(r.depth);
  CHECK(r.error == "no answer within 0.3 s, killed");
  CHECK(took >= 0.25);
  CHECK(took < 2.0);
  const pid_t pgid = pid_from(dir.file("pid"));
  CHECK(group_gone(pgid));  // both sleeps and the shell, which is reaped too
  CHECK(zombie_children_of(getpid()).empty());
  MESSAGE("sleep 10 with a 0.3 s timeout: back in ", took * 1000, " ms");
}

TEST_CASE("command probe: the shell's exit ends the read, though a background job holds stdout") {
  TempDir dir;
  const auto start = Steady::now();
  QueueReading r = run_line("echo $$ > " + dir.file("pid") + "; sleep 10 & echo 5", 3.0);
  CHECK(seconds_since(start) < 1.0);
  REQUIRE(r.depth);
  CHECK(*r.depth == 5);
  CHECK(group_gone(pid_from(dir.file("pid"))));  // the background sleep went with it
}

TEST_CASE("command probe: output past 64 KiB is cut and the writer stopped") {
  const auto start = Steady::now();
  QueueReading r = run_line("yes 8", 3.0);
  CHECK(seconds_since(start) < 1.0);
  INFO("error: ", r.error);
  REQUIRE(r.depth);
  CHECK(*r.depth == 8);
}

TEST_CASE("command probe: cwd, and the arguments checked up front") {
  TempDir dir;
  write_file(dir.file("depth.txt"), "31\n");
  QueueReading r = run_line("cat depth.txt", 5.0, dir.path());
  REQUIRE(r.depth);
  CHECK(*r.depth == 31);

  auto error = [](const std::string& line, double timeout_s, const std::string& cwd = "") {
    auto p = make_command_probe(line, timeout_s, cwd);
    return p ? std::string() : p.error().message();
  };
  CHECK(error("  ", 5) == "command probe: empty command");
  CHECK(error("echo 1", 0) == "command probe: timeout 0 s out of range (0, 3600]");
  CHECK(error("echo 1", 3601) == "command probe: timeout 3601 s out of range (0, 3600]");
  CHECK(error("echo 1", 5, dir.file("nope")) == "command probe: cwd " + dir.file("nope") + ": No such file or directory");
  CHECK(error("echo 1", 5, dir.file("depth.txt")) == "command probe: cwd " + dir.file("depth.txt") + ": not a directory");
  CHECK(error("echo 1", 3600) == "");
}
