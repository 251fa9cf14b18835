#include "shell/autoscale/policy_config.h"

#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "shell/autoscale/autoscaler.h"
#include "shell/lua/lua_limits.h"

namespace drover {

namespace {

// The file's environment: its globals fall back to the shell's. os.exit is refused: a
// config never ends the master that runs it. pool, defaults and no_pools are set by the
// ConfigRecorder. The file's policies close over this environment, so theirs is this one too.
constexpr const char* kEnv = R"lua(
local env = setmetatable({}, { __index = _G })
env.os = setmetatable({ exit = function() error("os.exit is not available in a config file or a policy: it would end drover without stopping its workers", 2) end },
                      { __index = os })
return env
)lua";

}  // namespace

ConfigRun::~ConfigRun() {
  if (staged_) ctx_.autoscaler->rollback_reload();
}

Result<LoadedConfig> ConfigRun::run(const std::string& path) {
  if (!ctx_.autoscaler) return Status::invalid("no autoscaler");
  if (staged_) return Status::invalid("a config run is staged already");
  lua_State* L = lua_.get();
  std::error_code ec;
  const std::string owner = std::filesystem::absolute(path, ec).lexically_normal().string();
  const int top = lua_gettop(L);
  // luaL_loadfile names the chunk "@path", so errors read "pools.lua:3: ...", a missing
  // file "cannot open pools.lua"; it also skips a #! line.
  if (const int loaded = luaL_loadfile(L, path.c_str()); loaded != LUA_OK) {
    std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "cannot load " + path;
    lua_settop(L, top);
    if (loaded == LUA_ERRFILE) return std::filesystem::exists(path, ec) ? Status::io_error(msg) : Status::not_found(msg);
    return Status::invalid(msg);
  }
  if (luaL_dostring(L, kEnv) != LUA_OK) {
    lua_settop(L, top);
    return Status::invalid("cannot build the config's environment");
  }
  ConfigRecorder recorder(L, path);
  recorder.install(-1);
  lua_setupvalue(L, -2, 1);  // a main chunk's first upvalue is its _ENV
  ctx_.autoscaler->begin_reload(owner);
  staged_ = true;
  autoscaled_.clear();
  ctx_.loading.push_back(owner);
  ctx_.config_autoscaled = &autoscaled_;
  const int status = lua_.call(0, 0, lua_limit_settings().config_time_s, /*line_events=*/true);
  ctx_.config_autoscaled = nullptr;
  ctx_.loading.pop_back();
  if (status != LUA_OK) {
    std::string msg = lua_tostring(L, -1) ? lua_tostring(L, -1) : "error";
    if (size_t tb = msg.find("\nstack traceback:"); tb != std::string::npos) msg.erase(tb);
    lua_settop(L, top);
    ctx_.autoscaler->rollback_reload();
    staged_ = false;
    return Status::invalid(msg);
  }
  lua_settop(L, top);
  auto config = recorder.finish();
  if (!config) {
    ctx_.autoscaler->rollback_reload();
    staged_ = false;
  }
  return config;
}

Status ConfigRun::check_pools(const std::vector<PoolSpec>& pools) const {
  std::set<std::string> names;
  std::string list;
  for (const auto& p : pools) {
    names.insert(p.name);
    list += (list.empty() ? "" : ", ") + p.name;
  }
  for (const auto& [pool, where] : autoscaled_)
    if (!names.count(pool))
      return Status::invalid(fmt::format("{}autoscale \"{}\": no such pool (pools: {})", where, pool,
                                         list.empty() ? "none" : list));
  return Status::ok();
}

void ConfigRun::commit() {
  if (!staged_) return;
  ctx_.autoscaler->commit_reload();
  staged_ = false;
}

}  // namespace drover
