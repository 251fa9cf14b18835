#include "app/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace drover {

ServiceNotify ServiceNotify::from_environment() {
  ServiceNotify n;
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path || (path[0] != '/' && path[0] != '@') || std::strlen(path) >= sizeof(sockaddr_un::sun_path)) {
    unsetenv("NOTIFY_SOCKET");
    return n;
  }
  n.path_ = path;
  unsetenv("NOTIFY_SOCKET");
  n.fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return n;
}

ServiceNotify::~ServiceNotify() {
  if (fd_ >= 0) close(fd_);
}

bool ServiceNotify::send(const std::string& state) const {
  if (fd_ < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
  return sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len) ==
         static_cast<ssize_t>(state.size());
}

}  // namespace drover
