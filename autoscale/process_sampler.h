// ProcessSampler: CPU and memory of each pool's processes, each worker with every
// descendant (a `sh -c` wrapper's children, a forking worker's children), from /proc.
//
// CPU is the time the processes spent on a CPU between two samples, in cores: 1.5 = one
// and a half CPUs busy. Each process P has, in /proc/P/stat, its own time own(P) =
// utime + stime (every thread) and the time of its children that exited and were waited
// for, reaped(P) = cutime + cstime: when P reaps a child C, the kernel adds C's whole
// life, own(C) + reaped(C), to reaped(P). Write life(P) = own(P) + reaped(P). Per sample:
//  - a pid seen in the previous sample (same start time) adds life(now) - life(then),
//    less `credit` (below): its own time in the interval and that of the children it
//    reaped in it, including children born and gone within one interval, which no scan
//    ever sees (most of the work of a fork-per-job pool: resque forks a child per job);
//  - a pid first seen that started (field 22, ticks since boot) at or after the previous
//    sample's time on the boot clock (/proc/uptime, read under proc_root at each sample)
//    was born in the interval: it adds its whole life(now);
//  - a pid first seen that started before the previous sample (re-parented into a tree,
//    or a root just added, which may have run for hours) adds nothing: its history
//    starts now. So does every new pid when /proc/uptime cannot be read, and every pid
//    on the first sample.
// Double counting: a child C seen in the previous sample was then accounted up to
// life(C) at that time (counted, or left out as history before we knew it). Once C is
// reaped, its parent's reaped() grows by C's whole life, so for every pid that vanished
// since the previous sample (gone, or its pid reused), life(C) as last seen is its
// `credit`, taken from the nearest ancestor (by the ppids of the previous sample) that
// is still alive: its parent, or the grandparent when both exited (a job child that
// reaped its own `sh`). Then C adds exactly its life after the last sample, and nothing
// from before it, even if it was old when first seen. A pid's credit never exceeds
// what its reaped() grew by, and no pid ever adds less than 0 (a counter that went
// back, a child reaped by someone else such as a subreaper), so CPU is never negative;
// any excess credit is dropped, not carried over.
// Zombies (exited, not yet reaped) keep their counters: they count CPU (the tail of
// their life) but neither as processes nor in RSS, and their history is kept until
// the reap moves it into the parent, so the credit meets the cutime it offsets.
// Not seen at all: children whose parent ignores SIGCHLD (auto-reaped: the kernel adds
// their time to no one) and that live less than one interval.
// A pid reused by a new process is told apart by its start time. RSS is summed (shared
// pages are counted once per process, as ps does).
// Cost: one scan of /proc per sample, about 3 ms with 1000 processes on the machine
// (one open+read of each /proc/PID/stat, and of /proc/uptime), whatever the pools hold.
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
  int processes = 0;       // the workers and their descendants found alive (not zombies)
};

class ProcessSampler {
 public:
  // proc_root: "/proc" (a test may point it at a fake tree of PID/stat files and an
  // uptime file). clock: where the interval's length comes from (a test's FakeClock
  // makes CPU exact); it must outlive the sampler.
  explicit ProcessSampler(std::string proc_root = "/proc", const Clock& clock = SteadyClock::instance());
  // roots: pool name -> its workers' pids. Returns a total for every pool named; a root
  // that is gone counts nothing, a zombie root only its CPU since the previous sample.
  // CPU is over the time since the previous call, whatever pools it named.
  std::map<std::string, ProcessTotals> sample(const std::map<std::string, std::vector<pid_t>>& roots);

 private:
  struct Seen {
    uint64_t own = 0;     // utime + stime
    uint64_t reaped = 0;  // cutime + cstime
    uint64_t start = 0;   // starttime
    pid_t ppid = 0;       // where its credit goes once it vanishes
  };
  std::string root_;
  const Clock& clock_;
  std::unordered_map<pid_t, Seen> last_;  // the processes counted at the previous sample
  double last_sample_s_ = 0;              // the clock's seconds
  uint64_t last_boot_ticks_ = 0;          // /proc/uptime at the previous sample, in ticks
  bool have_last_ = false;
  bool have_last_boot_ = false;           // /proc/uptime was read at the previous sample
};

}  // namespace drover
