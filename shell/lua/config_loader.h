// Loads a drover config file written in Lua:
//
//     defaults { grace = 10, backoff = { initial = 0.1, max = 30 } }
//     pool "foo" { cmd = "python3 worker.py", n = 2, env = { MODE = "fast" } }
//     pool "bar" { cmd = { "./bar", "--fast" }, n = 2, cwd = "/srv/bar" }
//
// load_config_file runs the file in a fresh Lua state whose globals are the standard
// library plus `defaults` and `pool` (drover itself runs it in the shell's state, with a
// ConfigRecorder, below); every error (syntax, unknown field, wrong type, bad value,
// duplicate pool) points at the file and line. A relative cwd is taken relative to the
// config file's directory, so a config runs the same from anywhere.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"
#include "jobs/schedule.h"

struct lua_State;

namespace drover {

struct LoadedConfig {
  std::vector<PoolSpec> pools;  // in the order the file defines them
  PoolSpec defaults;            // what `defaults{}` set, for pools created later
  // The file says no_pools(): defining no pool is meant, and a reload with it may remove
  // every running pool (without it, such a reload is refused: an emptied file is a mistake).
  bool no_pools = false;
  // schedule "name" { ... } lines, in order (shell/lua/schedule_table.h): defined (or
  // replaced) in the job queue once the pools are applied; a reload keeps the schedules
  // the file no longer names (schedule.drop removes one).
  std::vector<jobs::Schedule> schedules;
};

// The same pool, defaults and no_pools for a config file run in a state of the caller's: the
// shell's, where the file's other lines (autoscale, every, budget) are live, so that the
// file runs once (shell/autoscale/policy_config.h). For the scope of a run: install() puts
// the three functions in the run's environment table, the caller runs the chunk, and
// finish() returns what it defined (or the error of a pool left without its body).
class ConfigRecorder {
 public:
  ConfigRecorder(lua_State* L, const std::string& path, const EngineLimits& limits = {});
  ~ConfigRecorder();
  ConfigRecorder(const ConfigRecorder&) = delete;
  ConfigRecorder& operator=(const ConfigRecorder&) = delete;
  void install(int env_index);
  Result<LoadedConfig> finish();

 private:
  struct Impl;
  lua_State* L_;
  std::unique_ptr<Impl> impl_;
};

Result<LoadedConfig> load_config_file(const std::string& path, const EngineLimits& limits = {});
// Same, for a chunk held in memory; chunk_name appears in errors ("=pools" style or "@file").
Result<LoadedConfig> load_config_string(const std::string& text, const std::string& chunk_name,
                                        const EngineLimits& limits = {});

}  // namespace drover
