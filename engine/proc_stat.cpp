#include "engine/proc_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace drover {

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      close + 2 >= line.size() || line[close + 1] != ' ')
    return std::nullopt;
  ProcStat st;
  st.comm = std::string(line.substr(open + 1, close - open - 1));
  st.state = line[close + 2];
  // Fields 4 to 24, as numbers. A copy ends the text for strtoll.
  const std::string rest(line.substr(close + 3));
  const char* s = rest.c_str();
  int64_t field[25] = {};
  for (int k = 4; k <= 24; ++k) {
    char* end = nullptr;
    // strtoll: tty_nr and priority may be negative; none of the fields kept ever is.
    const long long v = std::strtoll(s, &end, 10);
    if (end == s) return std::nullopt;
    field[k] = v;
    s = end;
  }
  auto u = [&](int k) { return field[k] < 0 ? 0 : static_cast<uint64_t>(field[k]); };
  st.ppid = static_cast<pid_t>(field[4]);
  st.pgrp = static_cast<pid_t>(field[5]);
  st.utime = u(14);
  st.stime = u(15);
  st.cutime = u(16);
  st.cstime = u(17);
  st.start_ticks = u(22);
  st.rss_pages = u(24);
  return st;
}

std::optional<ProcStat> read_proc_stat_at(int proc_dir_fd, const char* name) {
  const std::string path = std::string(name) + "/stat";
  const int fd = ::openat(proc_dir_fd, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // A stat line is a few hundred bytes: one read takes it whole (a 16-byte comm and every
  // number at its widest stay under 1 KiB).
  char buf[2048];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_proc_stat(std::string_view(buf, static_cast<size_t>(n)));
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  return read_proc_stat_at(AT_FDCWD, ("/proc/" + std::to_string(pid)).c_str());
}

}  // namespace drover
