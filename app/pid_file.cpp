#include "app/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace drover {

namespace {

// The pid in an open pid file, or 0.
pid_t read_pid(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  return static_cast<pid_t>(std::strtol(buf, nullptr, 10));
}

bool same_file(int a, int b) {
  struct stat sa {}, sb {};
  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Status failure(const std::string& path, const std::string& what) {
  return Status::io_error(fmt::format("pid file {}: {}", path, what));
}

}  // namespace

Result<PidFile> PidFile::create(const std::string& path) {
  // A file already there: held by a live drover (its lock), or left by a dead one.
  if (int old = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC); old >= 0) {
    const bool held = flock(old, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    const pid_t holder = read_pid(old);
    close(old);
    if (held)
      return failure(path, fmt::format("locked by a running drover (pid {}); one pid file per drover", holder));
  } else if (errno == ELOOP) {
    return failure(path, "is a symbolic link; refused (give the real path)");
  }
  // Written aside, locked, then renamed into place: readers see the whole pid or nothing,
  // and rename replaces a symlink planted at the path rather than following it.
  const std::string tmp = fmt::format("{}.tmp.{}", path, getpid());
  int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return failure(path, fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
  auto give_up = [&](const std::string& what) {
    const int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return failure(path, fmt::format("{}: {}", what, std::strerror(e)));
  };
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return give_up("cannot lock");
  const std::string text = fmt::format("{}\n", getpid());
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return give_up("cannot write");
  if (rename(tmp.c_str(), path.c_str()) != 0) return give_up("cannot rename into place");
  // Two drovers started in the same instant both got this far: the file at the path now
  // is the last one renamed, and only its writer may keep going.
  int now = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  const bool ours = now >= 0 && same_file(fd, now);
  if (now >= 0) close(now);
  if (!ours) {
    close(fd);
    return failure(path, "replaced by another process while drover wrote it; one pid file per drover");
  }
  return PidFile(path, fd);
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) { other.fd_ = -1; }

PidFile::~PidFile() {
  remove_if_ours();
  if (fd_ >= 0) close(fd_);
}

void PidFile::remove_if_ours() {
  if (fd_ < 0) return;
  int now = open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (now < 0) return;  // gone already
  if (same_file(fd_, now) && read_pid(now) == getpid()) unlink(path_.c_str());
  close(now);
}

}  // namespace drover
