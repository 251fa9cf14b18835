// The control sockets of this user's running drovers, for `drover attach` with no
// address (issue 12): each drover serves its shell's API on
// <runtime base>/<pid>/control.sock (engine/runtime_dir.h), a unix socket only its owner
// (and root) can open.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/runtime_dir.h"

namespace drover {

inline constexpr const char* kControlSocketName = "control.sock";

// Where a drover's control socket goes in its runtime directory.
inline std::string control_socket_path(const RuntimeDir& dir) { return dir.file(kControlSocketName); }

struct LiveControlSocket {
  pid_t pid = 0;
  std::string path;  // <base>/<pid>/control.sock
};

// The control sockets under base (runtime_base_dir() by default) whose drover is alive,
// sorted by pid. Reads only: stale directories are left to the next drover's start.
std::vector<LiveControlSocket> find_control_sockets(const std::string& base);

// The control socket path of drover `pid`, when base holds a directory of that pid and
// the process that made it is alive (the socket itself may be missing: connecting says so).
std::optional<std::string> control_socket_of(const std::string& base, pid_t pid);

}  // namespace drover
