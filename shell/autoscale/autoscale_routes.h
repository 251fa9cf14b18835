// The autoscaler as the control plane shows it: GET /api/v1/autoscale and
// POST /api/v1/autoscale/POOL/on|off (control/http_control.h's AutoscaleHooks).
//
// The hooks run on HTTP threads. A read (the list) takes the Autoscaler's published copy
// and never waits for the Lua lock. A change (on/off) needs the lock (the Autoscaler's
// state is the shell's): it waits at most kLuaWait, so a chunk running at the prompt makes
// it answer 503 "busy" rather than hold an HTTP thread. The holder lets main build the
// hooks before the shell exists and retire them before it goes.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "control/http_control.h"
#include "shell/lua/shell_context.h"

namespace drover {

inline constexpr std::chrono::milliseconds kLuaWait{2000};

struct AutoscaleRoutesTarget {
  std::mutex mu;
  ShellContext* ctx = nullptr;  // null: no shell (yet, or any more): 503
};

AutoscaleHooks make_autoscale_hooks(std::shared_ptr<AutoscaleRoutesTarget> target);

}  // namespace drover
