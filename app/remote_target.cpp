#include "app/remote_target.h"

#include <cstdlib>

#include <fmt/format.h>

#include "app/control_socket.h"
#include "app/http_token.h"
#include "control/http_auth.h"
#include "engine/runtime_dir.h"

namespace drover {

Target find_target(const std::string& spec, const char* who, const char* say_which) {
  const std::string base = runtime_base_dir();
  if (spec.empty()) {
    auto live = find_control_sockets(base);
    if (live.size() == 1) return {RemoteAddress{.unix_path = live[0].path}};
    if (live.empty()) {
      fmt::print(stderr, "{}: no drover of yours is running here (looked in {}); give HOST:PORT or a "
                 "socket path\n", who, base);
      return {std::nullopt, 1};
    }
    std::string list;
    for (const auto& s : live) list += fmt::format("  pid {}: {}\n", s.pid, s.path);
    fmt::print(stderr, "{}: {} drovers of yours are running here; say which: {}\n{}", who, live.size(), say_which, list);
    return {std::nullopt, 2};
  }
  // A number: a drover of ours by its pid when there is one, else a port (which it was
  // before drovers had control sockets, and is for a drover of another user).
  if (spec.find_first_not_of("0123456789") == std::string::npos && spec.size() < 10)
    if (auto path = control_socket_of(base, static_cast<pid_t>(std::stol(spec))))
      return {RemoteAddress{.unix_path = *path}};
  auto address = parse_remote_address(spec);
  if (!address) {
    fmt::print(stderr, "drover {}\n", address.error().message());  // the message starts "attach: " or so
    return {std::nullopt, 2};
  }
  return {std::move(*address)};
}

Status add_token(RemoteAddress& address, const std::string& token_file) {
  if (!address.unix_path.empty()) return Status::ok();
  if (!token_file.empty()) {
    auto token = read_token_file(token_file);
    if (!token) return token.error();
    address.token = *token;
  } else if (const char* t = std::getenv(kHttpTokenEnv); t && *t) {
    address.token = t;
  } else if (auto path = default_http_token_path()) {
    auto token = read_http_token_if_present(*path);
    if (!token) return token.error();
    address.token = *token;
  }
  return Status::ok();
}


}  // namespace drover
