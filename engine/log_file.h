// LogFile: an appender of stamped, prefixed lines with size rotation and reopen.
//
// Lines are buffered in memory and written with one write(2) per flush(), which the
// engine calls once per loop iteration (its before_sleep step), so a flood of output
// costs one syscall per wake-up rather than one per line. append() flushes by itself
// once the buffer passes kFlushBytes, so one busy iteration cannot grow it unboundedly.
//
// Line format: "2026-11-24T09:14:10.123Z foo[1234]: text\n" (format_timestamp, then a
// space, then format_log_prefix from events.h, then the text).
//
// Rotation: before a flush that would take the file past max_bytes, path.N-1 -> path.N
// ... path -> path.1 (path.keep is overwritten, so at most keep old files remain) and a
// fresh path is opened; a file grows past max_bytes only when one batch alone does.
// keep 0 truncates the file in place instead; max_bytes 0 never rotates. If the fresh
// file cannot be opened, writing goes on in the old one (now path.1) and rotation is
// tried again after another max_bytes.
// reopen() (on SIGHUP) flushes to the old file and opens path again, for logrotate's
// move+HUP; if that fails the old file stays in use and the error is returned.
// Write errors (disk full) are counted and the buffer is dropped, never retried forever;
// a flush with no open file (open() never succeeded) is counted and dropped the same way.
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
  static constexpr size_t kFlushBytes = 256 * 1024;

  LogFile(std::string path, uint64_t max_bytes, int keep);
  ~LogFile();  // flushes
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Opens (creating, mode 0644) path for appending; the parent directory must exist.
  // IoError names the path and errno text.
  Status open();
  // "2026-11-24T09:14:10.123Z foo[1234]: text\n" into the buffer.
  void append(const LogLine& line);
  void flush();
  Status reopen();

  const std::string& path() const { return path_; }
  // Bytes in the current file: its size at open() plus what this object wrote since.
  uint64_t size() const { return size_; }
  // Batches dropped because they could not be (fully) written, and the lines they held.
  uint64_t write_errors() const { return write_errors_; }
  uint64_t lines_lost() const { return lines_lost_; }
  // The last flush failed (the disk is full, the file is gone): lines are being lost now.
  bool failing() const { return failing_; }
  // Why the last failed flush failed ("No space left on device"); kept after recovery.
  const std::string& last_error() const { return last_error_; }

 private:
  void rotate();
  std::string path_;
  uint64_t max_bytes_;
  int keep_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string buffer_;
  uint64_t write_errors_ = 0;
  uint64_t lines_lost_ = 0;
  bool failing_ = false;
  std::string last_error_;
  int64_t stamp_ms_ = -1;  // the last formatted stamp, reused within one millisecond
  std::string stamp_;
};

// "2026-11-24T09:14:10.123Z" (UTC, millisecond precision, proleptic Gregorian; no locale
// or time-zone state is consulted, so it is safe from any thread).
std::string format_timestamp(int64_t wall_ms);

}  // namespace drover
