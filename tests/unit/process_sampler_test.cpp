// ProcessSampler over a fake /proc written into a temporary directory: stat lines with
// hostile command names, trees, exact CPU from two snapshots, a FakeClock and an uptime
// file that moves with it; children born, counted and reaped between samples.
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

// One process's stat line; designated initializers name what a test sets.
struct Stat {
  pid_t pid = 0;
  pid_t ppid = 1;
  uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
  uint64_t rss = 1;
  uint64_t start = 1000;  // ticks since boot: long before the fake's uptime
  char state = 'S';
  std::string comm = "p";
};

struct FakeProc {
  std::string path;
  double uptime_s = 1000;  // the boot clock, moved with the test's FakeClock by tick()
  FakeProc() {
    char t[] = "/tmp/drover-proc-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
    // What else lives in /proc: names that are not pids.
    std::filesystem::create_directory(path + "/self");
    std::filesystem::create_directory(path + "/12abc");
    uptime(uptime_s);
  }
  ~FakeProc() { std::filesystem::remove_all(path); }

  void uptime(double s) {
    uptime_s = s;
    std::ofstream(path + "/uptime") << fmt::format("{:.2f} {:.2f}\n", s, s);
  }
  // The interval between two samples: the sampler's clock and the boot clock alike.
  void tick(FakeClock& clock, double s) {
    clock.advance(seconds_f(s));
    uptime(uptime_s + s);
  }
  // A start time `s` seconds after the boot clock's current reading.
  uint64_t at(double s) const { return static_cast<uint64_t>((uptime_s + s) * kTick); }

  // A whole stat line as the kernel writes it (52 fields; tty_nr and tpgid -1 are
  // negative), so the parser meets the real layout around the fields it reads.
  void put(const Stat& st) const {
    std::filesystem::create_directories(fmt::format("{}/{}", path, st.pid));
    std::ofstream(fmt::format("{}/{}/stat", path, st.pid))
        << fmt::format("{} ({}) {} {} {} {} 0 -1 4194560 120 0 0 0 {} {} {} {} 20 0 1 0 {} 3133440 {} "
                       "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                       st.pid, st.comm, st.state, st.ppid, st.pid, st.pid, st.utime, st.stime, st.cutime,
                       st.cstime, st.start, st.rss);
  }
  void proc(pid_t pid, const std::string& comm, pid_t ppid, uint64_t utime, uint64_t stime, uint64_t rss,
            uint64_t start = 1000, char state = 'S') const {
    put({.pid = pid, .ppid = ppid, .utime = utime, .stime = stime, .rss = rss, .start = start, .state = state,
         .comm = comm});
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

TEST_CASE("process sampler: CPU in cores over the interval - old pids first seen count from then") {
  FakeProc p;
  FakeClock clock;
  p.proc(100, "sh -c", 1, 500, 100, 1);
  p.proc(101, "worker", 100, 1000, 200, 1);
  p.proc(102, "idle", 100, 7, 3, 1);
  ProcessSampler sampler(p.path, clock);
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == 0);  // no interval yet

  // 2 s later: +50 user on 100, +100 user and +50 system on 101, 102 idle: 200 ticks.
  p.tick(clock, 2);
  p.proc(100, "sh -c", 1, 550, 100, 1);
  p.proc(101, "worker", 100, 1100, 250, 1);
  // A new child with hours of CPU behind it, started long before the previous sample
  // (a re-parented old process): it contributes nothing this time.
  p.proc(103, "new", 101, 90000, 9000, 1);
  auto t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 4);
  CHECK(t["a"].cpu == doctest::Approx(200 / kTick / 2));

  // 0.5 s later: the new child's 50 ticks count now; 102 exited (forgotten; 100 did not
  // reap it, its cutime is unchanged); 101's pid was reused by a process born 0.2 s
  // after the previous sample, with fewer ticks: all its 3 ticks count.
  const uint64_t reused_start = p.at(0.2);
  p.tick(clock, 0.5);
  p.proc(103, "new", 101, 90040, 9010, 1);
  p.gone(102);
  p.proc(101, "reused", 100, 3, 0, 1, reused_start);
  t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 3);
  CHECK(t["a"].cpu == doctest::Approx((50 + 3) / kTick / 0.5));

  // The reused pid is known now: +10 ticks in 1 s.
  p.tick(clock, 1);
  p.proc(101, "reused", 100, 13, 0, 1, reused_start);
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
  p.tick(clock, 1);
  p.proc(100, "w1", 1, 200, 0, 1);
  p.proc(200, "w2", 1, 200, 0, 1);
  auto t = sampler.sample({{"a", {100}}});  // b removed
  CHECK(t.size() == 1);
  CHECK(t["a"].cpu == doctest::Approx(100 / kTick));
  // b is back: 200 is new again, its ticks since the sample that skipped it are not known.
  p.tick(clock, 1);
  p.proc(200, "w2", 1, 300, 0, 1);
  t = sampler.sample({{"a", {100}}, {"b", {200}}});
  CHECK(t["b"].cpu == 0);
  CHECK(t["b"].processes == 1);
}

TEST_CASE("process sampler: job children born and gone within one interval count fully") {
  FakeProc p;
  FakeClock clock;
  p.put({.pid = 100, .utime = 50, .cutime = 400, .cstime = 100});  // a worker with past jobs
  ProcessSampler sampler(p.path, clock);
  sampler.sample({{"a", {100}}});

  // 1 s later: the worker ran 2 ticks. Two jobs it forked and reaped ran 30 + 10 ticks
  // (user, system), one with a `sh` of its own that it reaped (5 ticks, in the job's
  // cutime, so in the worker's); no scan saw them. A job forked 0.5 s in still runs: 20
  // ticks, and 5 of a child it reaped. A job forked 0.6 s in exited, not yet reaped: 8.
  const uint64_t running_start = p.at(0.5), zombie_start = p.at(0.6);
  p.tick(clock, 1);
  p.put({.pid = 100, .utime = 52, .cutime = 400 + 30 + 5, .cstime = 100 + 10});
  p.put({.pid = 101, .ppid = 100, .utime = 15, .stime = 5, .cutime = 5, .start = running_start});
  p.put({.pid = 102, .ppid = 100, .utime = 8, .rss = 0, .start = zombie_start, .state = 'Z'});
  auto t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 2);  // the zombie is no process
  CHECK(t["a"].cpu == doctest::Approx((2 + 45 + 25 + 8) / kTick));

  // The zombie is reaped (the worker's cutime +8, all counted already): nothing more from
  // it; the running job ran 10 more ticks.
  p.tick(clock, 1);
  p.gone(102);
  p.put({.pid = 100, .utime = 52, .cutime = 435 + 8, .cstime = 110});
  p.put({.pid = 101, .ppid = 100, .utime = 25, .stime = 5, .cutime = 5, .start = running_start});
  t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 2);
  CHECK(t["a"].cpu == doctest::Approx(10 / kTick));
}

TEST_CASE("process sampler: a child counted, then reaped, adds only the rest of its life") {
  FakeProc p;
  FakeClock clock;
  p.put({.pid = 100});
  // There before the first sample, with 1050 ticks of history (its own and a reaped
  // child's) that belong to no interval.
  p.put({.pid = 110, .ppid = 100, .utime = 900, .stime = 100, .cutime = 50});
  ProcessSampler sampler(p.path, clock);
  sampler.sample({{"a", {100}}});

  // Sample 1: a job born 0.5 s in has run 10 ticks.
  const uint64_t job_start = p.at(0.5);
  p.tick(clock, 1);
  p.put({.pid = 101, .ppid = 100, .utime = 6, .stime = 4, .start = job_start});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(10 / kTick));

  // Sample 2: it ran to 25 ticks and was reaped: the parent's cutime and cstime grew by
  // 20 + 5, of which 10 were counted.
  p.tick(clock, 1);
  p.gone(101);
  p.put({.pid = 100, .cutime = 20, .cstime = 5});
  auto t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 2);
  CHECK(t["a"].cpu == doctest::Approx(15 / kTick));

  // Sample 3: the old child ran 10 more and was reaped: its whole life, 1060 ticks, went
  // into the parent's cutime; only the 10 after the last sample count.
  p.tick(clock, 1);
  p.gone(110);
  p.put({.pid = 100, .cutime = 20 + 910 + 50, .cstime = 5 + 100});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(10 / kTick));

  // Sample 4: a job and the `sh` it runs, both born in the interval: 10 + 20 counted.
  const uint64_t sh_start = p.at(0.2);
  p.tick(clock, 1);
  p.put({.pid = 120, .ppid = 100, .utime = 10, .start = sh_start});
  p.put({.pid = 121, .ppid = 120, .utime = 20, .start = sh_start});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(30 / kTick));

  // Sample 5: both exited, the `sh` (25 in all) reaped by the job (12 in all), the job by
  // the worker: its cutime grew by 12 + 25; both credits (10, 20) go to the worker,
  // the nearest ancestor alive: 2 + 5 added.
  p.tick(clock, 1);
  p.gone(120);
  p.gone(121);
  p.put({.pid = 100, .cutime = 980 + 37, .cstime = 105});
  t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 1);
  CHECK(t["a"].cpu == doctest::Approx(7 / kTick));
}

TEST_CASE("process sampler: a new pid that started before the previous sample counts from then") {
  FakeProc p;
  FakeClock clock;
  p.put({.pid = 100});
  ProcessSampler sampler(p.path, clock);
  sampler.sample({{"a", {100}}});

  // Re-parented into the tree (its own parent died): it started 0.5 s before the
  // previous sample, with 300 ticks of its own and 200 of its children. None counts.
  p.tick(clock, 1);
  const uint64_t old_start = p.at(-1.5);
  p.put({.pid = 105, .ppid = 100, .utime = 300, .cutime = 200, .start = old_start});
  auto t = sampler.sample({{"a", {100}}});
  CHECK(t["a"].processes == 2);
  CHECK(t["a"].cpu == 0);
  // From then on: +10 of its own, +5 of a child it reaped.
  p.tick(clock, 1);
  p.put({.pid = 105, .ppid = 100, .utime = 310, .cutime = 205, .start = old_start});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(15 / kTick));

  // Born exactly at the tick of the previous sample: in the interval (within one tick).
  const uint64_t edge = p.at(0);
  p.tick(clock, 1);
  p.put({.pid = 106, .ppid = 100, .utime = 4, .start = edge});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(4 / kTick));

  // No /proc/uptime at a sample: what was born after it cannot be told from what was
  // re-parented, so a new pid at the next sample counts from then, as an old one.
  std::filesystem::remove(p.path + "/uptime");
  clock.advance(seconds_f(1));
  sampler.sample({{"a", {100}}});
  const uint64_t late = p.at(0.5);
  p.tick(clock, 1);
  p.put({.pid = 107, .ppid = 100, .utime = 40, .start = late});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == 0);
}

TEST_CASE("process sampler: never negative - counters that go back, credits beyond the cutime") {
  FakeProc p;
  FakeClock clock;
  p.put({.pid = 100, .utime = 100, .cutime = 500});
  p.put({.pid = 101, .ppid = 100, .utime = 50});
  p.put({.pid = 102, .ppid = 100, .utime = 10});
  ProcessSampler sampler(p.path, clock);
  sampler.sample({{"a", {100}}});

  // The parent's utime and cutime go back (no kernel does; a misread or a fake may): it
  // adds 0, not -210; its children's 5 + 2 still count.
  p.tick(clock, 1);
  p.put({.pid = 100, .utime = 90, .cutime = 300});
  p.put({.pid = 101, .ppid = 100, .utime = 55});
  p.put({.pid = 102, .ppid = 100, .utime = 12});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(7 / kTick));

  // 101 vanished, reaped by someone else (a subreaper): its credit, 55, is more than the
  // parent's cutime grew (3, a job born and reaped within the interval). The parent adds
  // 0, not -52; 102's 2 ticks still count, and the excess credit is not carried over.
  p.tick(clock, 1);
  p.gone(101);
  p.put({.pid = 100, .utime = 90, .cutime = 303});
  p.put({.pid = 102, .ppid = 100, .utime = 14});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(2 / kTick));
  p.tick(clock, 1);
  p.put({.pid = 100, .utime = 90, .cutime = 306});
  CHECK(sampler.sample({{"a", {100}}})["a"].cpu == doctest::Approx(3 / kTick));
}

TEST_CASE("process sampler: no /proc at all - zeros for every pool named") {
  ProcessSampler sampler("/nonexistent/proc");
  auto t = sampler.sample({{"a", {1}}, {"b", {}}});
  REQUIRE(t.size() == 2);
  CHECK(t["a"].processes == 0);
  CHECK(t["b"].cpu == 0);
}
