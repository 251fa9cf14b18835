#include "autoscale/system_sampler.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace drover {

namespace {

// The whole of a small /proc file (they are a few kB at most), or empty when it cannot
// be read. /proc files report a size of 0, so read until EOF rather than stat.
std::string slurp(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// "MemAvailable:   24341316 kB" -> bytes; 0 when the key is missing. Every value in
// meminfo is in kB (the kernel's "kB" is KiB) except the HugePages_ counts, not read here.
uint64_t meminfo_bytes(const std::string& text, const std::string& key) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    if (text.compare(at, key.size(), key) == 0 && text.size() > at + key.size() && text[at + key.size()] == ':')
      return std::strtoull(text.c_str() + at + key.size() + 1, nullptr, 10) * 1024;
    at = end + 1;
  }
  return 0;
}

}  // namespace

SystemSampler::SystemSampler(std::string proc_root) : root_(std::move(proc_root)) {}

SystemSample SystemSampler::sample() {
  SystemSample s;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  s.cpus = cpus > 0 ? static_cast<int>(cpus) : 1;

  const std::string loadavg = slurp(root_ + "/loadavg");
  if (std::sscanf(loadavg.c_str(), "%lf %lf %lf", &s.load1, &s.load5, &s.load15) != 3)
    s.load1 = s.load5 = s.load15 = 0;

  const std::string meminfo = slurp(root_ + "/meminfo");
  s.mem_total_bytes = meminfo_bytes(meminfo, "MemTotal");
  s.mem_available_bytes = meminfo_bytes(meminfo, "MemAvailable");

  // The first line sums every CPU: "cpu  user nice system idle iowait irq softirq steal
  // guest guest_nice" in ticks. guest and guest_nice are already counted in user and
  // nice, so adding them would count a VM's time twice.
  const std::string stat = slurp(root_ + "/stat");
  unsigned long long v[8] = {};
  if (stat.rfind("cpu ", 0) == 0 &&
      std::sscanf(stat.c_str() + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                  &v[5], &v[6], &v[7]) == 8) {
    const uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    const uint64_t total = busy + v[3] + v[4];
    if (!have_last_) {
      last_cpu_ = -1;
    } else if (total > last_total_ && busy >= last_busy_) {
      last_cpu_ = std::min(1.0, static_cast<double>(busy - last_busy_) / static_cast<double>(total - last_total_));
    }
    // Otherwise the last share stands: two samples within one tick see no change (0/0),
    // and iowait is known to step backwards on tickless kernels; the next sample measures
    // from the new totals.
    last_busy_ = busy;
    last_total_ = total;
    have_last_ = true;
  }
  s.cpu = last_cpu_;
  return s;
}

}  // namespace drover
