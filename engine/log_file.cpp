#include "engine/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace drover {

std::string format_timestamp(int64_t wall_ms) {
  time_t secs = static_cast<time_t>(wall_ms / 1000);
  int ms = static_cast<int>(wall_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

LogFile::LogFile(std::string path, uint64_t max_bytes, int keep)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}

LogFile::~LogFile() {
  flush();
  if (fd_ >= 0) close(fd_);
}

Status LogFile::open() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error(fmt::format("cannot open log file {}: {}", path_, std::strerror(errno)));
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return Status::ok();
}

Status LogFile::reopen() {
  flush();
  return open();
}

void LogFile::append(const LogLine& line) {
  // Stamps are cached per millisecond: a flood produces many lines per stamp.
  if (line.wall_ms != stamp_ms_) {
    stamp_ms_ = line.wall_ms;
    stamp_ = format_timestamp(line.wall_ms);
  }
  buffer_ += stamp_;
  buffer_ += ' ';
  buffer_ += format_log_prefix(line);
  buffer_ += line.text;
  buffer_ += '\n';
}

void LogFile::flush() {
  if (buffer_.empty() || fd_ < 0) return;
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ++write_errors_;  // disk full or gone: drop this batch rather than grow without bound
      break;
    }
    off += static_cast<size_t>(n);
  }
  size_ += off;
  buffer_.clear();
  if (max_bytes_ > 0 && size_ >= max_bytes_) rotate();
}

void LogFile::rotate() {
  if (keep_ <= 0) {
    if (ftruncate(fd_, 0) == 0) size_ = 0;
    return;
  }
  // path.(keep-1) -> path.keep ... path -> path.1; the oldest falls off the end.
  for (int i = keep_ - 1; i >= 1; --i)
    std::rename(fmt::format("{}.{}", path_, i).c_str(), fmt::format("{}.{}", path_, i + 1).c_str());
  std::rename(path_.c_str(), (path_ + ".1").c_str());
  open();
}

}  // namespace drover
