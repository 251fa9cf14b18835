// Two costs matter on the logging path: syscalls and formatting. Syscalls are batched
// (see the header). Formatting is dominated by the stamp, so the stamp is computed
// without gmtime/strftime (no locale, no TZ lock) and cached for the millisecond: a flood
// writes thousands of lines per millisecond and formats the date once.
#include "engine/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace drover {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct CivilDate {
  int64_t year;
  unsigned month, day;
};

// Howard Hinnant's civil_from_days: the Gregorian date of a day count since 1970-01-01,
// valid for the whole int64 range of days we can be handed.
CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);                 // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                  // March = 0
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

void put_digits(char* p, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string format_timestamp(int64_t wall_ms) {
  const int64_t secs = floor_div(wall_ms, 1000);
  const auto ms = static_cast<unsigned>(wall_ms - secs * 1000);
  const int64_t days = floor_div(secs, 86400);
  const auto sod = static_cast<unsigned>(secs - days * 86400);
  const CivilDate date = civil_from_days(days);
  if (date.year < 0 || date.year > 9999) {  // not a real log stamp, but stay well-formed
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", date.year, date.month, date.day,
                       sod / 3600, sod / 60 % 60, sod % 60, ms);
  }
  char buf[] = "YYYY-MM-DDTHH:MM:SS.mmmZ";
  put_digits(buf, static_cast<unsigned>(date.year), 4);
  put_digits(buf + 5, date.month, 2);
  put_digits(buf + 8, date.day, 2);
  put_digits(buf + 11, sod / 3600, 2);
  put_digits(buf + 14, sod / 60 % 60, 2);
  put_digits(buf + 17, sod % 60, 2);
  put_digits(buf + 20, ms, 3);
  return std::string(buf, sizeof buf - 1);
}

LogFile::LogFile(std::string path, uint64_t max_bytes, int keep)
    : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}

LogFile::~LogFile() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

Status LogFile::open() {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error(fmt::format("cannot open log file {}: {}", path_, std::strerror(errno)));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  // Appending to an existing file: rotation counts what is already there.
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return Status::ok();
}

Status LogFile::reopen() {
  flush();  // what was appended before the HUP belongs to the old file
  return open();
}

void LogFile::append(const LogLine& line) {
  if (line.wall_ms != stamp_ms_) {
    stamp_ms_ = line.wall_ms;
    stamp_ = format_timestamp(line.wall_ms);
  }
  buffer_ += stamp_;
  buffer_ += ' ';
  buffer_ += format_log_prefix(line);
  buffer_ += line.text;
  buffer_ += '\n';
  if (buffer_.size() >= kFlushBytes) flush();
}

void LogFile::flush() {
  if (buffer_.empty()) return;
  if (fd_ < 0) {
    ++write_errors_;
    lines_lost_ += static_cast<uint64_t>(std::count(buffer_.begin(), buffer_.end(), '\n'));
    failing_ = true;
    last_error_ = "the log file is not open";
    buffer_.clear();
    return;
  }
  // Rotate before the batch that would cross the limit, so each file stays under it; an
  // empty file takes the batch whatever its size, or an oversized batch would loop.
  if (max_bytes_ > 0 && size_ > 0 && size_ + buffer_.size() > max_bytes_) rotate();
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Disk full or file gone: drop the rest of this batch rather than hold a growing
      // backlog for a disk that may never come back. The lines are counted, so that
      // status() and /metrics can say how many the file is missing.
      ++write_errors_;
      lines_lost_ += static_cast<uint64_t>(std::count(buffer_.begin() + static_cast<ptrdiff_t>(off), buffer_.end(), '\n'));
      last_error_ = n < 0 ? std::strerror(errno) : "nothing written";
      break;
    }
    off += static_cast<size_t>(n);
  }
  failing_ = off < buffer_.size();
  size_ += off;
  buffer_.clear();  // keeps its capacity for the next batch
}

void LogFile::rotate() {
  if (keep_ <= 0) {
    // O_APPEND writes follow the new end, so truncating in place is enough.
    if (::ftruncate(fd_, 0) == 0) size_ = 0;
    return;
  }
  // path.(keep-1) -> path.keep ... path -> path.1; rename replaces path.keep, which is
  // how the oldest falls off. Missing generations (ENOENT) are normal early on.
  for (int i = keep_ - 1; i >= 1; --i) {
    std::rename(fmt::format("{}.{}", path_, i).c_str(), fmt::format("{}.{}", path_, i + 1).c_str());
  }
  std::rename(path_.c_str(), (path_ + ".1").c_str());
  if (!open()) size_ = 0;  // keep writing to the old fd (path.1); retry after max_bytes
}

}  // namespace drover
