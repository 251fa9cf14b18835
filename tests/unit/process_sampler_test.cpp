// ProcessSampler over a fake /proc written into a temporary directory: stat lines with
// hostile command names, trees, exact CPU from two snapshots and a FakeClock.
#include "autoscale/process_sampler.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

using namespace drover;

namespace {

const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
const uint64_t kPage = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));

struct FakeProc {
  std::string path;
  FakeProc() {
    char t[] = "/tmp/drover-proc-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
    // What else lives in /proc: names that are not pids.
    std::filesystem::create_directory(path + "/self");
    std::filesystem::create_directory(path + "/12abc");
    std::ofstream(path + "/uptime") << "1.0 1.0\n";
  }
  ~FakeProc() { std::filesystem::remove_all(path); }

  // A whole stat line as the kernel writes it (52 fields; tty_nr and tpgid -1 are
  // negative), so the parser meets the real layout around the fields it reads.
  void proc(pid_t pid, const std::string& comm, pid_t ppid, uint64_t utime, uint64_t stime, uint64_t rss,
            uint64_t start = 1000, char state = 'S') const {
    std::filesystem::create_directories(fmt::format("{}/{}", path, pid));
    std::ofstream(fmt::format("{}/{}/stat", path, pid))
        << fmt::format("{} ({}) {} {} {} {} 0 -1 4194560 120 0 0 0 {} {} 7 3 20 0 1 0 {} 3133440 {} "
                       "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                       pid, comm, state, ppid, pid, pid, utime, stime, start, rss);
  }
  void raw(pid_t pid, const std::string& line) const {
    std::filesystem::create_directories(fmt::format("{}/{}", path, pid));
    std::ofstream(fmt::format("{}/{}/stat", path, pid)) << line;
  }
  void gone(pid_t pid) const { std::filesystem::remove_all(fmt::format("{}/{}", path, pid)); }
};

using Roots = std::map<std::string, std::vector<pid_t>>;

}  // namespace

TEST_CASE("process sampler: stat lines are parsed after the last ')' - names with spaces and parens") {
  FakeProc p;
  p.proc(100, "(a) b)", 1, 0, 0, 10);
  p.proc(101, "x 1 2 3) R 4", 100, 0, 0, 20);
  p.proc(102, ")", 101, 0, 0, 30);
  p.proc(103, "", 100, 0, 0, 40);
  p.raw(104, "104 (truncated) S 100 104\n");    // too short: not a process
  p.raw(105, "105 no parens S 100 1 2 3 4 5\n");  // no comm at all
  p.raw(106, "");                                // read as it vanished
  p.proc(107, "zomb)", 100, 5, 5, 0, 1000, 'Z'); // zombies are not counted
  p.proc(108, "dead", 100, 5, 5, 0, 1000, 'X');
  ProcessSampler sampler(p.path);
  auto t = sampler.sample({{"pool", {100}}});
  CHECK(t["pool"].processes == 4);
  CHECK(t["pool"].rss_bytes == (10 + 20 + 30 + 40) * kPage);
  CHECK(t["pool"].cpu == 0);  // first sample
}

TEST_CASE("process sampler: each root with all its descendants - missing roots count nothing") {
  FakeProc p;
  p.proc(1, "init", 0, 0, 0, 1);
  p.proc(100, "sh", 1, 0, 0, 1);
  p.proc(101, "worker", 100, 0, 0, 2);
  p.proc(102, "job", 101, 0, 0, 4);
  p.proc(103, "job", 102, 0, 0, 8);
  p.proc(200, "other", 1, 0, 0, 16);
  p.proc(201, "other-child", 200, 0, 0, 32);
  p.proc(300, "unrelated", 1, 0, 0, 64);
  ProcessSampler sampler(p.path);
  auto t = sampler.sample({{"a", {100}}, {"b", {200, 999}}, {"empty", {}}, {"ghost", {4242}}, {"nested", {101, 102}}});
  REQUIRE(t.size() == 5);
  CHECK(t["a"].processes == 4);
  CHECK(t["a"].rss_bytes == 15 * kPage);
  CHECK(t["b"].processes == 2);
  CHECK(t["b"].rss_bytes == 48 * kPage);
  CHECK(t["empty"].processes == 0);
  CHECK(t["ghost"].processes == 0);
  CHECK(t["ghost"].rss_bytes == 0);
  // A root under another root of the same pool is counted once.
  CHECK(t["nested"].processes == 3);
  CHECK(t["nested"].rss_bytes == 14 * kPage);

  // A parent loop cannot happen in /proc, but a fake (or racing) tree must not hang us.
  p.proc(400, "loop-a", 401, 0, 0, 1);
  p.proc(401, "loop-b", 400, 0, 0, 1);
  p.proc(402, "self", 402, 0, 0, 1);
  t = sampler.sample({{"loop", {400, 402}}});
  CHECK(t["loop"].processes == 3);
}

TEST_CASE("process sampler: CPU in cores over the interval - new pids count from their first sample") {
  FakeProc p;
  FakeClock clock;
  p.proc(100, "sh -c", 1, 500, 100, 1);
  p.proc(101, "worker", 100, 1000, 200, 1);
  p.proc(102, "idle", 100, 7, 3, 1);
  ProcessSampler sampler(p.path, clock);
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == 0);  // no interval yet

  // 2 s later: +50 user on 100, +100 user and +50 system on 101, 102 idle: 200 ticks.
  clock.advance(seconds_f(2));
  p.proc(100, "sh -c", 1, 550, 100, 1);
  p.proc(101, "worker", 100, 1100, 250, 1);
  // A new child with hours of CPU behind it (it could be a re-parented old process):
  // it contributes nothing this time.
  p.proc(103, "new", 101, 90000, 9000, 1);
  auto t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 4);
  CHECK(t["a"].cpu == doctest::Approx(200 / kTick / 2));

  // 0.5 s later: the new child's 50 ticks count now; 102 exited (forgotten); 101's pid
  // was reused by a process with another start time and fewer ticks: it counts 0.
  clock.advance(seconds_f(0.5));
  p.proc(103, "new", 101, 90040, 9010, 1);
  p.gone(102);
  p.proc(101, "reused", 100, 3, 0, 1, /*start=*/5000);
  t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 3);
  CHECK(t["a"].cpu == doctest::Approx(50 / kTick / 0.5));

  // The reused pid's history started at the last sample: +10 ticks in 1 s.
  clock.advance(seconds_f(1));
  p.proc(101, "reused", 100, 13, 0, 1, 5000);
  t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].cpu == doctest::Approx(10 / kTick / 1));

  // No time passed: no rate, whatever the counters say.
  p.proc(100, "sh -c", 1, 650, 100, 1);
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == 0);
}

TEST_CASE("process sampler: pids left out of a sample lose their history") {
  FakeProc p;
  FakeClock clock;
  p.proc(100, "w1", 1, 100, 0, 1);
  p.proc(200, "w2", 1, 100, 0, 1);
  ProcessSampler sampler(p.path, clock);
  sampler.sample({{"a", {100}}, {"b", {200}}});
  clock.advance(seconds_f(1));
  p.proc(100, "w1", 1, 200, 0, 1);
  p.proc(200, "w2", 1, 200, 0, 1);
  auto t = sampler.sample({{"a", {100}}});  // b removed
  CHECK(t.size() == 1);
  CHECK(t["a"].cpu == doctest::Approx(100 / kTick));
  // b is back: 200 is new again, its ticks since the sample that skipped it are not known.
  clock.advance(seconds_f(1));
  p.proc(200, "w2", 1, 300, 0, 1);
  t = sampler.sample({{"a", {100}}, {"b", {200}}});
  CHECK(t["b"].cpu == 0);
  CHECK(t["b"].processes == 1);
}

TEST_CASE("process sampler: no /proc at all - zeros for every pool named") {
  ProcessSampler sampler("/nonexistent/proc");
  auto t = sampler.sample({{"a", {1}}, {"b", {}}});
  REQUIRE(t.size() == 2);
  CHECK(t["a"].processes == 0);
  CHECK(t["b"].cpu == 0);
}
