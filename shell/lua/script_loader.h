// Lua scripts by path: `load "target_tracking"` runs the file and returns what
// it returns (the shipped policies return a constructor). Lua's own load(chunk) compiles a
// string; drover's takes over when the argument reads as a path to a .lua file (one line,
// ending in ".lua") and falls back to Lua's for anything else, so load("return 1") works
// as ever.
//
// A path is looked up as given (relative to drover's working directory), then under
// each of the script directories: the config file's directory, then drover's own tree
// (DROVER_DATA_DIR), so the shipped scripts/ are found from anywhere.
#pragma once

#include <lua.hpp>

#include "shell/lua/data_dirs.h"  // drover_data_dir(), which the callers of save_builtin_load pass

#include <string>
#include <string_view>
#include <vector>

namespace drover {

// The file `path` names, or "" when none of the places has it: as given, then under each
// of dirs, then under each of policy_dirs.
std::string resolve_script(const std::string& path, const std::vector<std::string>& dirs,
                           const std::vector<std::string>& policy_dirs);
// The same with this process's policy search path (policy_dirs() in data_dirs.h).
std::string resolve_script(const std::string& path, const std::vector<std::string>& dirs);
// "load: no script PATH (looked in ., DIR, ...)": where a failed lookup searched.
std::string no_script_message(const std::string& path, const std::vector<std::string>& dirs);

// True when the value at idx is a string that reads as a script path or a policy name.
bool is_script_path(lua_State* L, int idx);
// A Lua name that is not a keyword ("queue_proportional"): a policy's, never a chunk.
bool is_policy_name(std::string_view s);

// Keeps Lua's own load (before a binding replaces it) and the directories in L's registry.
void save_builtin_load(lua_State* L, const std::vector<std::string>& dirs);
// Calls Lua's own load with the arguments of the running C function; returns its results.
int call_builtin_load(lua_State* L);
std::vector<std::string> script_dirs(lua_State* L);

// Runs the resolved file with no arguments and leaves all its results on the stack;
// returns how many. Raises a Lua error naming the file and line on failure.
int run_script(lua_State* L, const std::string& path);

// For a state that only reads pools (the config loader): autoscale, budget, every, redis,
// command, fn and unload accept what the shell's take and do nothing, and load runs
// scripts, so one config file serves both readers.
void install_policy_stubs(lua_State* L, const std::vector<std::string>& dirs);

}  // namespace drover
