// /proc/PID/stat, read and parsed in one place (the engine's containment and heartbeat
// checks, the runtime directory's liveness test, pstree, and the autoscaler's process
// sampler all read it).
//
// The command name (field 2) is the process's own choice (prctl, argv[0]) and may hold
// spaces, ')' and digits, so the fields are counted from the last ')'. Fields read (man 5
// proc, 1-based): 3 state, 4 ppid, 5 pgrp, 14 utime, 15 stime, 16 cutime, 17 cstime,
// 22 starttime, 24 rss.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace drover {

struct ProcStat {
  std::string comm;         // field 2, without its parentheses
  char state = '?';         // R, S, D, Z, X ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  uint64_t utime = 0, stime = 0;    // its own CPU time, in clock ticks
  uint64_t cutime = 0, cstime = 0;  // its reaped children's
  uint64_t start_ticks = 0;         // since boot: tells a reused pid from the old one
  uint64_t rss_pages = 0;

  bool zombie() const { return state == 'Z' || state == 'X' || state == 'x'; }
};

// One stat line; nullopt when it does not parse.
std::optional<ProcStat> parse_proc_stat(std::string_view line);
// /proc/PID/stat; nullopt when the process is gone (or the line does not parse).
std::optional<ProcStat> read_proc_stat(pid_t pid);
// NAME/stat relative to an open /proc (or a test's fake of it): one openat and one read,
// for walks over every process.
std::optional<ProcStat> read_proc_stat_at(int proc_dir_fd, const char* name);

}  // namespace drover
