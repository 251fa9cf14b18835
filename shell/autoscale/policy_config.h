// The config file's policies. A config is read twice: once in a fresh state for its pools
// (config_loader.h, where autoscale & co are inert), and once here, in the shell's own
// state, for its autoscale, budget and every lines, which need the live Autoscaler and
// may close over the shell's globals. In this second run `pool` and `defaults` are inert,
// and the file's globals land in a table of its own (its _ENV, falling back to the shell's
// globals), so a reload cannot clobber what the operator defined at the prompt.
#pragma once

#include <string>

#include "engine/status.h"
#include "shell/lua/lua_state.h"
#include "shell/lua/shell_context.h"

namespace drover {

// Runs `path`'s policy lines; what an earlier run of the same file defined is replaced.
// On error nothing changes: the earlier policies stay. Call with the Lua lock held and
// ctx.autoscaler set.
Status load_config_policies(ShellContext& ctx, LuaState& lua, const std::string& path);

}  // namespace drover
