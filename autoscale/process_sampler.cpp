#include "autoscale/process_sampler.h"

#include "engine/proc_stat.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace drover {

namespace {

struct Proc {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t own = 0;        // utime + stime, every thread of the process
  uint64_t reaped = 0;     // cutime + cstime: its children that exited and were waited for
  uint64_t start = 0;      // starttime, ticks since boot: tells a reused pid from the old one
  uint64_t rss_pages = 0;
  bool zombie = false;     // exited, not yet reaped: counters final, no memory
  int first_child = -1;    // indexes into the scan, a linked list of children
  int next_sibling = -1;
  int visited = -1;        // the pool (by order) that last counted it
};

// DIR/PID/stat relative to the open /proc directory (engine/proc_stat.h). A process that
// exits between readdir and open (or read) is simply not there. Zombies and dead tasks
// are kept, flagged: their CPU time moves to their parent's cutime only when it reaps them.
bool read_stat(int dir_fd, const char* name, Proc& p) {
  const auto st = read_proc_stat_at(dir_fd, name);
  if (!st) return false;
  p.zombie = st->zombie();
  p.ppid = st->ppid;
  p.own = st->utime + st->stime;
  p.reaped = st->cutime + st->cstime;
  p.start = st->start_ticks;
  p.rss_pages = st->rss_pages;
  return true;
}

// The boot clock now, in ticks, from PROC/uptime ("12345.67 ..."): exact integers, so
// that a start time in the same tick compares as the kernel meant it.
bool read_uptime_ticks(const std::string& root, uint64_t ticks_per_s, uint64_t& out) {
  int fd = ::open((root + "/uptime").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* end = nullptr;
  unsigned long long secs = std::strtoull(buf, &end, 10);
  if (end == buf || buf[0] == '-') return false;
  uint64_t frac = 0, scale = 1;
  if (*end == '.')
    for (const char* d = end + 1; *d >= '0' && *d <= '9' && scale < 1'000'000'000; ++d) {
      frac = frac * 10 + static_cast<uint64_t>(*d - '0');
      scale *= 10;
    }
  out = secs * ticks_per_s + frac * ticks_per_s / scale;
  return true;
}

uint64_t minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

}  // namespace

ProcessSampler::ProcessSampler(std::string proc_root, const Clock& clock)
    : root_(std::move(proc_root)), clock_(clock) {}

std::map<std::string, ProcessTotals> ProcessSampler::sample(const std::map<std::string, std::vector<pid_t>>& roots) {
  static const uint64_t ticks_per_s = [] {
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<uint64_t>(t) : 100;
  }();
  static const uint64_t page = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<uint64_t>(p) : 4096;
  }();

  // The boot clock, read just before the scan: a process born after this read that the
  // scan misses (readdir had passed its pid) is, at the next sample, still born after
  // this time, so its whole life is counted then.
  uint64_t boot_ticks = 0;
  const bool have_boot = read_uptime_ticks(root_, ticks_per_s, boot_ticks);

  // One pass over /proc: every process with its parent. The whole table is needed
  // because /proc only links a process to its parent, never to its children.
  const double now_s = to_seconds(clock_.now().time_since_epoch());
  std::vector<Proc> procs;
  procs.reserve(last_.size() + 256);
  if (DIR* dir = ::opendir(root_.c_str())) {
    const int dir_fd = ::dirfd(dir);
    while (dirent* e = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != '\0') continue;
      Proc p;
      p.pid = static_cast<pid_t>(pid);
      if (read_stat(dir_fd, e->d_name, p)) procs.push_back(p);
    }
    ::closedir(dir);
  }
  std::unordered_map<pid_t, int> index;
  index.reserve(procs.size() * 2);
  for (int i = 0; i < static_cast<int>(procs.size()); ++i) index.emplace(procs[i].pid, i);
  for (int i = 0; i < static_cast<int>(procs.size()); ++i) {
    auto parent = index.find(procs[i].ppid);
    if (parent == index.end() || parent->second == i) continue;
    procs[i].next_sibling = procs[parent->second].first_child;
    procs[parent->second].first_child = i;
  }
  // The same process as at the previous sample: its pid is here with the same start time.
  auto same = [&](pid_t pid, const Seen& s) {
    auto it = index.find(pid);
    return it != index.end() && procs[it->second].start == s.start;
  };

  // Credits (see the header): the life already accounted of each process counted last
  // time and gone now, for the nearest ancestor still alive, whose cutime it went into
  // if that ancestor reaped it. The walk up follows last time's ppids; it is bounded by
  // the table's size, so a parent loop in a fake (or racing) /proc cannot hang it.
  std::unordered_map<pid_t, uint64_t> credit;
  for (const auto& [pid, s] : last_) {
    if (same(pid, s)) continue;
    pid_t up = s.ppid;
    for (size_t steps = 0; steps < last_.size(); ++steps) {
      auto a = last_.find(up);
      if (a == last_.end()) break;  // above the trees counted: reaped by no one we count
      if (same(up, a->second)) {
        credit[up] += s.own + s.reaped;
        break;
      }
      up = a->second.ppid;
    }
  }

  // What a process adds to its pool's ticks this sample: the rule of the header.
  auto added = [&](const Proc& p) -> uint64_t {
    auto last = last_.find(p.pid);
    if (last != last_.end() && last->second.start == p.start) {
      const uint64_t reaped = minus(p.reaped, last->second.reaped);
      auto c = credit.find(p.pid);
      const uint64_t offset = c == credit.end() ? 0 : std::min(c->second, reaped);
      return minus(p.own, last->second.own) + reaped - offset;
    }
    if (have_last_boot_ && p.start >= last_boot_ticks_) return p.own + p.reaped;  // born since
    return 0;
  };

  // The interval's length; none on the first sample (or a clock that did not move), and
  // then every CPU figure is 0.
  const double elapsed = have_last_ ? now_s - last_sample_s_ : 0;
  std::unordered_map<pid_t, Seen> seen;
  seen.reserve(last_.size());
  std::map<std::string, ProcessTotals> out;
  std::vector<int> stack;
  int pool_no = 0;
  for (const auto& [pool, pids] : roots) {
    ProcessTotals& t = out[pool];
    uint64_t ticks = 0;
    for (pid_t root : pids) {
      auto it = index.find(root);
      if (it == index.end()) continue;  // gone: counts nothing
      stack.push_back(it->second);
      // Depth first over the root and its descendants. `visited` keeps a process from
      // being counted twice when one root descends from another in the same pool.
      while (!stack.empty()) {
        Proc& p = procs[stack.back()];
        stack.pop_back();
        if (p.visited == pool_no) continue;
        p.visited = pool_no;
        if (!p.zombie) {
          ++t.processes;
          t.rss_bytes += p.rss_pages * page;
        }
        ticks += added(p);
        seen[p.pid] = Seen{p.own, p.reaped, p.start, p.ppid};
        for (int c = p.first_child; c >= 0; c = procs[c].next_sibling) stack.push_back(c);
      }
    }
    t.cpu = elapsed > 0 ? static_cast<double>(ticks) / static_cast<double>(ticks_per_s) / elapsed : 0;
    ++pool_no;
  }
  // Only the processes counted this time are remembered: pids that are gone, or no longer
  // under any root, are forgotten, so the table never outgrows the pools.
  last_ = std::move(seen);
  last_sample_s_ = now_s;
  last_boot_ticks_ = boot_ticks;
  have_last_boot_ = have_boot;
  have_last_ = true;
  return out;
}

}  // namespace drover
