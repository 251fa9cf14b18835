#include "shell/autoscale/policy_config.h"

#include <filesystem>

#include "shell/autoscale/autoscaler.h"

namespace drover {

namespace {

// pool "x" { ... } and defaults { ... } accept what they did in the pools' reading, and
// os.exit is refused as it was there: a config never ends the master that reads it. The
// file's policies close over this environment, so theirs is this one too.
constexpr const char* kEnv = R"lua(
local env = setmetatable({}, { __index = _G })
env.pool = function(name) return function() return true end end
env.defaults = function() return true end
env.no_pools = function() end
env.os = setmetatable({ exit = function() error("os.exit is not available in a config file or a policy: it would end drover without stopping its workers", 2) end },
                      { __index = os })
return env
)lua";

}  // namespace

Status load_config_policies(ShellContext& ctx, LuaState& lua, const std::string& path) {
  if (!ctx.autoscaler) return Status::invalid("no autoscaler");
  lua_State* L = lua.get();
  std::error_code ec;
  const std::string owner = std::filesystem::absolute(path, ec).lexically_normal().string();
  const int top = lua_gettop(L);
  if (luaL_loadfile(L, path.c_str()) != LUA_OK) {
    Status s = Status::invalid(lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load " + path);
    lua_settop(L, top);
    return s;
  }
  if (luaL_dostring(L, kEnv) != LUA_OK) {
    lua_settop(L, top);
    return Status::invalid("cannot build the config's environment");
  }
  lua_setupvalue(L, -2, 1);  // a main chunk's first upvalue is its _ENV
  ctx.autoscaler->begin_reload(owner);
  ctx.loading.push_back(owner);
  // The same limits as the pools' reading of this file (config_loader.cpp).
  const int status = lua.call(0, 0, lua_limit_settings().config_time_s, /*line_events=*/true);
  ctx.loading.pop_back();
  if (status != LUA_OK) {
    std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
    if (size_t tb = msg.find("\nstack traceback:"); tb != std::string::npos) msg.erase(tb);
    lua_settop(L, top);
    ctx.autoscaler->rollback_reload();
    return Status::invalid(msg);
  }
  ctx.autoscaler->commit_reload();
  lua_settop(L, top);
  return Status::ok();
}

}  // namespace drover
