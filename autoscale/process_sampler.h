// ProcessSampler: CPU and memory of each pool's processes, each worker with every
// descendant (a `sh -c` wrapper's children, a forking worker's children), from /proc.
//
// CPU is the time the processes spent on a CPU between two samples, in cores (1.5 =
// one and a half CPUs busy); a process first seen in this sample counts from its own
// start within the interval only if it started after the previous sample. RSS is summed
// (shared pages are counted once per process, as ps does).
// Cost: one scan of /proc per sample (about 1 ms per 100 processes).
// Thread: one thread at a time (it keeps the previous per-pid CPU times).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace drover {

struct ProcessTotals {
  double cpu = 0;          // cores busy over the interval; 0 on the first sample
  uint64_t rss_bytes = 0;
  int processes = 0;       // the workers and their descendants found alive
};

class ProcessSampler {
 public:
  explicit ProcessSampler(std::string proc_root = "/proc");
  // roots: pool name -> its workers' pids. Returns a total for every pool named.
  std::map<std::string, ProcessTotals> sample(const std::map<std::string, std::vector<pid_t>>& roots);

 private:
  std::string root_;
  std::unordered_map<pid_t, uint64_t> last_ticks_;  // utime+stime by pid at the previous sample
  double last_sample_s_ = 0;                        // monotonic seconds
};

}  // namespace drover
