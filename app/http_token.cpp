#include "app/http_token.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "control/http_auth.h"

namespace drover {

namespace {

Result<std::string> random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(raw.data() + got, bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::io_error(fmt::format("getrandom: {}", std::strerror(errno)));
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char c : raw) hex += fmt::format("{:02x}", c);
  return hex;
}

// mkdir -p, each new directory 0700 (the XDG base directory rule for the state home).
Status make_dirs(const std::string& dir) {
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    const std::string part = dir.substr(0, at);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::io_error(fmt::format("{}: {}", part, std::strerror(errno)));
  }
  return Status::ok();
}

// The token's own directory: ours, and nobody else may add or swap files in it.
Status check_token_dir(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return Status::io_error(fmt::format("{}: {}", dir, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return Status::invalid(fmt::format("{}: not a directory (a symlink?)", dir));
  if (st.st_uid != geteuid() || (st.st_mode & 022))
    return Status::invalid(fmt::format("{}: must be ours and writable by us only (it is {:o}, owner uid {})", dir,
                                       st.st_mode & 0777, st.st_uid));
  return Status::ok();
}

// The same error, said to be about this file: read_token_file's texts begin with
// "--http-token-file PATH", which the operator did not give.
Status about_token(const Status& s) {
  std::string m = s.message();
  if (m.rfind("--http-token-file ", 0) == 0) m.erase(0, 18);
  m = "drover's HTTP token: " + m;
  return s.code() == Status::Code::kIoError ? Status::io_error(m) : Status::invalid(m);
}

}  // namespace

Result<std::string> default_http_token_path() {
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state == '/')
    return std::string(state) + "/drover/http-token";
  std::string home;
  if (const char* h = std::getenv("HOME"); h && *h == '/') home = h;
  else if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_dir && *pw->pw_dir == '/') home = pw->pw_dir;
  if (home.empty())
    return Status::invalid("no place for the HTTP token: neither XDG_STATE_HOME nor HOME is set; give "
                           "--http-token-file PATH or DROVER_HTTP_TOKEN");
  return home + "/.local/state/drover/http-token";
}

Result<std::string> read_http_token_if_present(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::string();
    return Status::io_error(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  auto token = read_token_file(path);
  if (!token) return about_token(token.error());
  return token;
}

Result<std::string> read_or_create_http_token(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  if (Status s = make_dirs(dir); !s) return about_token(s);
  if (Status s = check_token_dir(dir); !s) return about_token(s);
  auto existing = read_http_token_if_present(path);
  if (!existing || !existing->empty()) return existing;
  // Written in full under a name of our own, then linked into place: link() fails when the
  // file exists, so of two drovers starting at once one makes it, the other reads it, and
  // neither ever reads half a token.
  auto token = random_hex(32);
  if (!token) return token;
  const std::string tmp = fmt::format("{}.{}.tmp", path, getpid());
  unlink(tmp.c_str());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error(fmt::format("drover's HTTP token: {}: {}", tmp, std::strerror(errno)));
  const std::string line = *token + "\n";
  const bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  const bool linked = written && link(tmp.c_str(), path.c_str()) == 0;
  const int err = errno;
  unlink(tmp.c_str());
  if (linked) return token;
  if (written && err == EEXIST) return read_http_token_if_present(path);  // the other drover's
  return Status::io_error(fmt::format("drover's HTTP token: {}: {}", path, std::strerror(err)));
}

}  // namespace drover
