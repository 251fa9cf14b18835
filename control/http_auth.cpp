#include "control/http_auth.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace drover {

bool constant_time_equal(std::string_view given, std::string_view expected) {
  // volatile: the compiler may not turn the loop into an early-exit memcmp. A length
  // mismatch is folded in rather than returned early; reading past `given` reads 0.
  volatile unsigned char diff = given.size() != expected.size() ? 1 : 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

Status check_token(const std::string& token, const std::string& where) {
  if (token.size() < kMinTokenLength)
    return Status::invalid(fmt::format("{}: the token is shorter than {} characters (try `openssl rand -hex 32`)",
                                       where, kMinTokenLength));
  for (char c : token)
    if (!std::isgraph(static_cast<unsigned char>(c)))
      return Status::invalid(fmt::format("{}: the token may hold printable characters only, no blanks", where));
  return Status::ok();
}

Result<std::string> read_token_file(const std::string& path) {
  const std::string where = "--http-token-file " + path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error(fmt::format("{}: {}", where, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return Status::invalid(fmt::format("{}: not a regular file", where));
  }
  // Checked on the open file, not the path: no window for a swap between check and read.
  if (st.st_mode & 077) {
    close(fd);
    return Status::invalid(fmt::format("{}: mode {:04o} lets group or others read it; chmod 600 {}", where,
                                       st.st_mode & 07777, path));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > 4096) break;
  }
  close(fd);
  if (text.size() > 4096) return Status::invalid(fmt::format("{}: longer than 4096 bytes", where));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (Status s = check_token(text, where); !s) return s;
  return text;
}

std::optional<std::string> take_token_from_environment() {
  const char* v = std::getenv(kHttpTokenEnv);
  if (!v) return std::nullopt;
  std::string token = v;
  // unsetenv only drops the pointer: the bytes stay in the environment block the kernel
  // set up at exec, which /proc/PID/environ shows to whoever may read it. getenv points
  // into that block (nothing has called setenv on this variable yet), so overwrite them.
  explicit_bzero(const_cast<char*>(v), token.size());
  unsetenv(kHttpTokenEnv);
  return token;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace drover
