// What the JSON API answers at most, shared by the server (control/api_routes.cpp) and
// its client (shell/remote/remote_client.cpp), so a client never asks for more than the
// server serves.
#pragma once

#include <cstddef>

namespace drover {

// GET /api/v1/log?n=: the most lines one answer carries (the default ring keeps 20000).
inline constexpr size_t kLogTailMaxLines = 10000;

}  // namespace drover
