// LogFile: an appender of stamped, prefixed lines with size rotation and reopen.
//
// Lines are buffered in memory and written with one write(2) per flush(), which the
// engine calls once per loop iteration (its before_sleep step), so a flood of output
// costs one syscall per wake-up rather than one per line.
// Rotation: when the file passes max_bytes, path.N-1 -> path.N ... path -> path.1 and a
// fresh path is opened. reopen() (on SIGHUP) reopens path, for logrotate's move+HUP.
// Write errors (disk full) are counted and the buffer is dropped, never retried forever.
// Thread: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/events.h"
#include "engine/status.h"

namespace drover {

class LogFile {
 public:
  LogFile(std::string path, uint64_t max_bytes, int keep);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  Status open();
  // "2026-11-24T09:14:10.123Z foo[1234]: text\n" into the buffer.
  void append(const LogLine& line);
  void flush();
  Status reopen();

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t write_errors() const { return write_errors_; }

 private:
  void rotate();
  std::string path_;
  uint64_t max_bytes_;
  int keep_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string buffer_;
  uint64_t write_errors_ = 0;
  int64_t stamp_ms_ = -1;  // the last formatted stamp, reused within one millisecond
  std::string stamp_;
};

// "2026-11-24T09:14:10.123Z" (UTC, millisecond precision).
std::string format_timestamp(int64_t wall_ms);

}  // namespace drover
