#include "autoscale/process_sampler.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace drover {

namespace {

struct Proc {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t ticks = 0;      // utime + stime, every thread of the process
  uint64_t start = 0;      // starttime, ticks since boot: tells a reused pid from the old one
  uint64_t rss_pages = 0;
  int first_child = -1;    // indexes into the scan, a linked list of children
  int next_sibling = -1;
  int visited = -1;        // the pool (by order) that last counted it
};

// One /proc/PID/stat line, parsed after the last ')': the command name between the
// parentheses is the process's own choice (prctl, argv[0]) and may hold spaces, ')' and
// digits, so no field before it can be found by counting blanks from the start.
// Fields after it (man 5 proc, 1-based): 3 state, 4 ppid, 14 utime, 15 stime,
// 22 starttime, 24 rss (pages). Zombies and dead tasks are not processes here: they use
// no memory, and their CPU time has moved to their parent's cutime, which is not counted.
bool parse_stat(const char* line, Proc& p) {
  const char* close = std::strrchr(line, ')');
  if (!close || close[1] != ' ') return false;
  const char* s = close + 2;
  if (*s == 'Z' || *s == 'X' || *s == 'x' || *s == '\0') return false;
  uint64_t field[22] = {};  // field[k] is stat field k + 3
  ++s;                      // past the state letter
  for (int k = 1; k < 22; ++k) {
    char* end = nullptr;
    // strtoll, not strtoull: fields such as tty_nr and priority may be negative, and
    // strtoull would wrap them; none of the fields read here is ever negative.
    long long v = std::strtoll(s, &end, 10);
    if (end == s) return false;
    field[k] = v < 0 ? 0 : static_cast<uint64_t>(v);
    s = end;
  }
  p.ppid = static_cast<pid_t>(field[1]);
  p.ticks = field[11] + field[12];
  p.start = field[19];
  p.rss_pages = field[21];
  return true;
}

// Reads DIR/PID/stat relative to the open /proc directory. A process that exits between
// readdir and open (or read) is simply not there.
bool read_stat(int dir_fd, const char* name, Proc& p) {
  char path[sizeof(dirent::d_name) + 8];
  std::snprintf(path, sizeof path, "%s/stat", name);
  int fd = ::openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // A stat line is a few hundred bytes; one read takes it whole, and the fields used
  // here come well before 2 KiB even with every number at its widest.
  char buf[2048];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return parse_stat(buf, p);
}

}  // namespace

ProcessSampler::ProcessSampler(std::string proc_root, const Clock& clock)
    : root_(std::move(proc_root)), clock_(clock) {}

std::map<std::string, ProcessTotals> ProcessSampler::sample(const std::map<std::string, std::vector<pid_t>>& roots) {
  static const double ticks_per_s = [] {
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<double>(t) : 100.0;
  }();
  static const uint64_t page = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<uint64_t>(p) : 4096;
  }();

  // One pass over /proc: every live process with its parent. The whole table is needed
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
      if (it == index.end()) continue;  // gone (or a zombie): counts nothing
      stack.push_back(it->second);
      // Depth first over the root and its descendants. `visited` keeps a process from
      // being counted twice when one root descends from another in the same pool.
      while (!stack.empty()) {
        Proc& p = procs[stack.back()];
        stack.pop_back();
        if (p.visited == pool_no) continue;
        p.visited = pool_no;
        ++t.processes;
        t.rss_bytes += p.rss_pages * page;
        // A pid seen before, with the same start time, ran (ticks - last ticks) in the
        // interval. A pid not seen before contributes nothing this time: its history starts
        // now. (Its ticks since its own start would be right only if it started within the
        // interval, and a root the caller just added may have run for hours.) A pid reused
        // by a new process is new.
        auto last = last_.find(p.pid);
        if (last != last_.end() && last->second.start == p.start && p.ticks >= last->second.ticks)
          ticks += p.ticks - last->second.ticks;
        seen[p.pid] = Seen{p.ticks, p.start};
        for (int c = p.first_child; c >= 0; c = procs[c].next_sibling) stack.push_back(c);
      }
    }
    t.cpu = elapsed > 0 ? static_cast<double>(ticks) / ticks_per_s / elapsed : 0;
    ++pool_no;
  }
  // Only the processes counted this time are remembered: pids that are gone, or no longer
  // under any root, are forgotten, so the table never outgrows the pools.
  last_ = std::move(seen);
  last_sample_s_ = now_s;
  have_last_ = true;
  return out;
}

}  // namespace drover
