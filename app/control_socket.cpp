#include "app/control_socket.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

namespace drover {

std::vector<LiveControlSocket> find_control_sockets(const std::string& base) {
  std::vector<LiveControlSocket> out;
  DIR* d = opendir(base.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    const pid_t pid = runtime_instance_pid(name);
    // "<pid>-<n>" are the extra directories of an in-process engine (tests): no shell's.
    if (pid == 0 || name != std::to_string(pid)) continue;
    const std::string dir = base + "/" + name;
    const std::string sock = dir + "/" + kControlSocketName;
    struct stat st;
    if (lstat(sock.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (runtime_instance_stale(dir, pid)) continue;
    out.push_back({pid, sock});
  }
  closedir(d);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.pid < b.pid; });
  return out;
}

std::optional<std::string> control_socket_of(const std::string& base, pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = base + "/" + std::to_string(pid);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || runtime_instance_stale(dir, pid)) return std::nullopt;
  return dir + "/" + kControlSocketName;
}

}  // namespace drover
