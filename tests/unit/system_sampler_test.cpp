// SystemSampler over a fake /proc written into a temporary directory (exact values), and
// once over the real one (sane values).
#include "autoscale/system_sampler.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

using namespace drover;

namespace {

struct FakeProc {
  std::string path;
  FakeProc() {
    char t[] = "/tmp/drover-sysproc-XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    path = t;
  }
  ~FakeProc() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(path + "/" + name) << text; }
  // The first line as the kernel writes it, then one per-CPU line that must be ignored.
  void stat(uint64_t user, uint64_t nice, uint64_t system, uint64_t idle, uint64_t iowait, uint64_t irq,
            uint64_t softirq, uint64_t steal, uint64_t guest) const {
    write("stat", fmt::format("cpu  {} {} {} {} {} {} {} {} {} 0\ncpu0 1 1 1 1 1 1 1 1 0 0\nintr 12345 0 0\n", user,
                              nice, system, idle, iowait, irq, softirq, steal, guest));
  }
};

}  // namespace

TEST_CASE("system sampler: load, memory and the busy share from a fake /proc") {
  FakeProc proc;
  proc.write("loadavg", "0.50 1.25 2.00 3/120 9999\n");
  proc.write("meminfo",
             "MemTotal:       24683652 kB\nMemFree:        24198920 kB\nSwapTotal:             0 kB\n"
             "MemAvailable:   24341316 kB\nHugePages_Total:       0\n");
  proc.stat(1000, 10, 200, 5000, 40, 5, 5, 0, 300);
  SystemSampler sampler(proc.path);
  SystemSample s = sampler.sample();
  CHECK(s.load1 == 0.5);
  CHECK(s.load5 == 1.25);
  CHECK(s.load15 == 2.0);
  CHECK(s.mem_total_bytes == 24683652ull * 1024);
  CHECK(s.mem_available_bytes == 24341316ull * 1024);
  CHECK(s.cpus == sysconf(_SC_NPROCESSORS_ONLN));
  CHECK(s.cpu == -1);  // nothing to compare with yet

  // +30 busy (user 10, system 5, irq 5, softirq 5, steal 5) and +70 idle (60 idle, 10
  // iowait): 0.3. guest grew by 100 too, but that time is inside user already.
  proc.stat(1010, 10, 205, 5060, 50, 10, 10, 5, 400);
  s = sampler.sample();
  CHECK(s.cpu == doctest::Approx(0.3));

  // Within the same tick nothing moved: the last share stands rather than 0/0.
  s = sampler.sample();
  CHECK(s.cpu == doctest::Approx(0.3));

  // All busy.
  proc.stat(1110, 10, 205, 5060, 50, 10, 10, 5, 400);
  CHECK(sampler.sample().cpu == doctest::Approx(1.0));

  // iowait stepping back (tickless kernels do) keeps the last share and measures on
  // from the new totals.
  proc.stat(1110, 10, 205, 5060, 45, 10, 10, 5, 400);
  CHECK(sampler.sample().cpu == doctest::Approx(1.0));
  proc.stat(1110, 10, 205, 5160, 45, 10, 10, 5, 400);
  CHECK(sampler.sample().cpu == doctest::Approx(0.0));
}

TEST_CASE("system sampler: missing or garbled files leave zeros, not errors") {
  FakeProc proc;
  SystemSampler sampler(proc.path);
  SystemSample s = sampler.sample();
  CHECK(s.load1 == 0);
  CHECK(s.mem_total_bytes == 0);
  CHECK(s.cpu == -1);
  CHECK(s.cpus >= 1);
  proc.write("loadavg", "garbage\n");
  proc.write("meminfo", "MemTotalish: 5 kB\n");
  proc.write("stat", "intr 1 2 3\ncpu  1 2\n");
  s = sampler.sample();
  CHECK(s.load1 == 0);
  CHECK(s.mem_total_bytes == 0);
  CHECK(s.cpu == -1);
}

TEST_CASE("system sampler: the real /proc") {
  SystemSampler sampler;
  SystemSample s = sampler.sample();
  CHECK(s.cpus >= 1);
  CHECK(s.mem_total_bytes > 0);
  CHECK(s.mem_available_bytes > 0);
  CHECK(s.mem_available_bytes <= s.mem_total_bytes);
  CHECK(s.load1 >= 0);
  CHECK(s.cpu == -1);
  // Burn a little CPU so that at least one tick passes between the samples.
  volatile uint64_t x = 0;
  for (int i = 0; i < 50'000'000; ++i) x = x + static_cast<uint64_t>(i);
  s = sampler.sample();
  CHECK(s.cpu >= 0);
  CHECK(s.cpu <= 1);
}
