// ShellContext: what every binding shares: the engine client, where the config came
// from, how to print, and the interrupt flag Ctrl-C raises. One per Lua state, kept in
// the Lua registry (see shell_context_of).
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/pool_spec.h"
#include "engine/status.h"
#include "api/engine_client.h"
#include "jobs/job_settings.h"
#include "shell/lua/lua_lock.h"

struct lua_State;

namespace drover {

class Autoscaler;

struct ShellContext {
  explicit ShellContext(EngineClient& c) : client(c) {}

  EngineClient& client;
  // Re-reads the configuration drover was started with (file and/or --workers): the pools
  // to apply. Unset when there is nothing to re-read (an attached remote shell). The config
  // file runs once, in this state (policy_config.h): its policies and timers are staged
  // until finish_config(true) says the pools were applied; finish_config(false) drops them.
  std::function<Result<std::vector<PoolSpec>>()> load_config;
  std::function<void(bool applied)> finish_config;
  std::string config_path;  // write_config()'s default target; empty: none
  // While a config file runs: the pools its autoscale lines name, with their places
  // ("pools.lua:3: "), checked once the pools to apply are known (ConfigRun::check_pools).
  std::vector<std::pair<std::string, std::string>>* config_autoscaled = nullptr;
  // What the latest config run defined with schedule "name" {...} (and --schedule FILE):
  // finish_config(true) defines them in the job queue.
  std::vector<jobs::Schedule> config_schedules;

  FILE* out = stdout;
  bool color = false;  // stdout is a terminal: colours and box-drawing characters

  // Raised by the SIGINT handler; follows and waits poll it. The REPL clears it.
  std::atomic<bool> interrupted{false};
  std::atomic<bool> events_enabled{true};
  bool exit_requested = false;
  // log.rew()/log.ff(): how many lines back from the newest the pager stands.
  size_t log_offset = 0;

  // Held by whoever runs Lua in this state (lua_lock.h).
  LuaLock lua_lock;
  // jobs{store = ..., ...} in the config: where the job queue is kept and how. main reads
  // them once, after the config's first run (jobs_settings_read); a later jobs{} (a
  // reload) may only say the same again: they take a restart.
  jobs::JobSettings jobs_settings;
  bool jobs_settings_read = false;
  // The policies' runner; null until main starts it (and in unit tests without one).
  Autoscaler* autoscaler = nullptr;
  // Where `load "x.lua"` looks after the path as given: the config's directory, then
  // drover's data directory (the policy search path comes after these: data_dirs.h).
  std::vector<std::string> script_dirs;
  // The scripts being run by load(), innermost last: what autoscale and every() define
  // belongs to the innermost, for unload(). Empty: typed at the prompt.
  std::vector<std::string> loading;
};

// Re-reads the config and applies it live (pools not in it are removed). An error in
// the config changes nothing.
Status reload_config(ShellContext& ctx);

// The context registered in L (set by install_bindings). Never null inside a binding.
ShellContext& shell_context_of(lua_State* L);

}  // namespace drover
