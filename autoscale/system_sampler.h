// SystemSampler: the machine's load as a policy sees it, from /proc: load averages,
// CPU busy share since the previous sample, memory available. Cheap (three small file
// reads); called by the autoscaler at most once per tick. A file that cannot be read or
// parsed leaves its fields at their defaults (0; cpu as before) rather than failing.
// Thread: one thread at a time (it keeps the previous /proc/stat totals).
#pragma once

#include <cstdint>
#include <string>

namespace drover {

struct SystemSample {
  double load1 = 0, load5 = 0, load15 = 0;  // /proc/loadavg
  // Busy share of all CPUs (0..1) between this sample and the previous one: everything
  // in /proc/stat's cpu line except idle and iowait (guest time is inside user already).
  // -1 on the first sample; a sample within the same tick as the previous repeats its share.
  double cpu = -1;
  int cpus = 1;                       // online CPUs (sysconf, not from proc_root)
  uint64_t mem_available_bytes = 0;   // MemAvailable
  uint64_t mem_total_bytes = 0;       // MemTotal
};

class SystemSampler {
 public:
  // proc_root: "/proc" (a test may point it at a fake tree).
  explicit SystemSampler(std::string proc_root = "/proc");
  SystemSample sample();

 private:
  std::string root_;
  uint64_t last_busy_ = 0, last_total_ = 0;  // /proc/stat's cpu line at the previous sample
  bool have_last_ = false;
  double last_cpu_ = -1;  // repeated when the totals did not move forward
};

}  // namespace drover
