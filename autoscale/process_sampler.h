// ProcessSampler: CPU and memory of each pool's processes, each worker with every
// descendant (a `sh -c` wrapper's children, a forking worker's children), from /proc.
//
// CPU is the time the processes spent on a CPU between two samples (utime + stime of
// /proc/PID/stat, every thread included), in cores: 1.5 = one and a half CPUs busy. A
// process first seen in a sample contributes 0 that time: its history starts there, and
// its time from then on is counted from the next sample. (So a job child that lives
// less than one interval is never counted, and neither is the CPU of exited children,
// which the kernel moves into their parent's cutime.) A pid reused by a new process
// is told apart by its start time. RSS is summed (shared pages are counted once per
// process, as ps does). Zombies are not counted at all.
// Cost: one scan of /proc per sample, about 3 ms with 1000 processes on the machine
// (one open+read of each /proc/PID/stat), whatever the pools hold.
// Thread: one thread at a time (it keeps the previous per-pid CPU times).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/clock.h"

namespace drover {

struct ProcessTotals {
  double cpu = 0;          // cores busy over the interval; 0 on the first sample
  uint64_t rss_bytes = 0;
  int processes = 0;       // the workers and their descendants found alive
};

class ProcessSampler {
 public:
  // proc_root: "/proc" (a test may point it at a fake tree of PID/stat files). clock:
  // where the interval's length comes from (a test's FakeClock makes CPU exact); it must
  // outlive the sampler.
  explicit ProcessSampler(std::string proc_root = "/proc", const Clock& clock = SteadyClock::instance());
  // roots: pool name -> its workers' pids. Returns a total for every pool named; a root
  // that is gone (or a zombie) counts nothing. CPU is over the time since the previous
  // call, whatever pools it named.
  std::map<std::string, ProcessTotals> sample(const std::map<std::string, std::vector<pid_t>>& roots);

 private:
  struct Seen {
    uint64_t ticks = 0;  // utime + stime
    uint64_t start = 0;  // starttime
  };
  std::string root_;
  const Clock& clock_;
  std::unordered_map<pid_t, Seen> last_;  // the processes counted at the previous sample
  double last_sample_s_ = 0;              // monotonic seconds
  bool have_last_ = false;
};

}  // namespace drover
