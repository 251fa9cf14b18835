// A run of the config file in the shell's own state: the only one (a config's top-level
// side effects happen once, at start and at each reload). Its pool, defaults and no_pools
// lines record pools (ConfigRecorder, config_loader.h), for the caller to apply; its
// autoscale, budget and every lines define policies and timers with the live Autoscaler,
// staged (Autoscaler::begin_reload) until the pools are applied: commit() then, and
// anything else drops them and keeps what an earlier run of the file defined. The file's
// globals land in a table of its own (its _ENV, falling back to the shell's globals), so a
// reload cannot clobber what the operator defined at the prompt.
//
// An autoscale line may name a pool the same file defines (above or below it) or another
// source gives (--workers): the pools exist only once applied, so the line's pool is
// checked against what is about to be applied (check_pools), and its error names the line.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "shell/lua/config_loader.h"
#include "shell/lua/lua_state.h"
#include "shell/lua/shell_context.h"

namespace drover {

class ConfigRun {
 public:
  // With the Lua lock held, from construction to destruction; ctx.autoscaler set.
  ConfigRun(ShellContext& ctx, LuaState& lua) : ctx_(ctx), lua_(lua) {}
  ~ConfigRun();  // an uncommitted run's policies and timers are dropped
  ConfigRun(const ConfigRun&) = delete;
  ConfigRun& operator=(const ConfigRun&) = delete;

  // Runs `path` once. On error nothing it defined stays.
  Result<LoadedConfig> run(const std::string& path);
  // Every autoscale line of the run named one of `pools` (all that will run once applied).
  Status check_pools(const std::vector<PoolSpec>& pools) const;
  // The pools are applied: the run's policies and timers replace the earlier run's.
  void commit();

 private:
  ShellContext& ctx_;
  LuaState& lua_;
  bool staged_ = false;
  std::vector<std::pair<std::string, std::string>> autoscaled_;  // pool, "file:line: "
};

}  // namespace drover
