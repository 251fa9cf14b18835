// Which running drover a client command means, and how it proves itself: the address rules
// of `drover attach` (app/attach_command.h), shared with `drover enqueue`.
#pragma once

#include <optional>
#include <string>

#include "engine/status.h"
#include "shell/remote/remote_client.h"

namespace drover {

// Where to go, and an exit status when that cannot be said (the reason is printed,
// prefixed with `who`; `say_which` is how to name one of several: "drover attach PID").
struct Target {
  std::optional<RemoteAddress> address;
  int rc = 0;
};
Target find_target(const std::string& spec, const char* who, const char* say_which);

// The same token rules as the server's: a file only its owner may read, or the variable,
// or else the token drover made for itself when this user has one. Over TCP only.
Status add_token(RemoteAddress& address, const std::string& token_file);

}  // namespace drover
