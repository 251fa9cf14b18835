// Limits on every Lua run of drover: a memory cap per Lua state, a time budget per run,
// and a process-wide stop that cuts off whatever Lua runs when drover is stopping.
//
// Lua runs inside the master, so a loop or an allocation without end in a config file, a
// REPL chunk or a policy would otherwise take the master with it: spin it (and every later
// reload) forever or grow it until the OOM killer takes it and every worker.
//
// - Memory: LuaMemory is a lua_Alloc with a limit. Past it an allocation fails; Lua then
//   collects garbage in an emergency and retries, and failing that raises "not enough
//   memory" (LUA_ERRMEM) in the run that asked, which unwinds, so the state survives.
// - Time: LuaRun installs a count hook (redis bounds its scripts the same way: a hook is
//   the only safe place to raise an error inside Lua code) that raises an error naming the
//   file and line once the run's deadline has passed. A C function (os.execute, a long
//   string.find) is beyond its reach: the hook runs only between Lua instructions.
// - Stop: stop_all_lua() (signal-safe) makes every hook raise at once, in every state and
//   coroutine, so TERM never waits for a loop to end.
#pragma once

#include <lua.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

namespace drover {

// The process-wide settings, set by main from its flags before any thread starts.
struct LuaLimitSettings {
  size_t memory_bytes = size_t{256} << 20;  // per Lua state: the shell's (where the config runs)
  double config_time_s = 10;                // a config file's run, at start and on reload
};
LuaLimitSettings& lua_limit_settings();

// A lua_Alloc with a limit, for lua_setallocf. Not thread-safe: a state is used by one
// thread at a time (the shell's under its LuaLock).
class LuaMemory {
 public:
  explicit LuaMemory(size_t limit) : limit_(limit) {}
  // Moves L (made with luaL_newstate, so with lauxlib's panic and warning functions) onto
  // this allocator; the bytes L already holds are counted.
  void attach(lua_State* L);
  size_t used() const { return used_; }
  size_t limit() const { return limit_; }

 private:
  static void* alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  size_t limit_;
  size_t used_ = 0;
};

// A new state (luaL_newstate) on `memory`; null when even that does not fit.
lua_State* new_limited_state(LuaMemory& memory);

// A run of Lua code on L under limits, for the scope: installs the hook on L (and restores
// the previous one at the end). budget_s = 0: no time limit (REPL chunks, which Ctrl-C
// interrupts). memory: L's allocator, for the limit in messages (may be null). line_events
// notes every line (exact places for memory errors; for configs, which run once).
// Runs nest on one thread (a REPL chunk calling reload() runs the config inside it).
class LuaRun {
 public:
  LuaRun(lua_State* L, const LuaMemory* memory, double budget_s, bool line_events = false);
  ~LuaRun();
  LuaRun(const LuaRun&) = delete;
  LuaRun& operator=(const LuaRun&) = delete;

  // The message for a failed call or load with `status`, whose error value is on top of
  // L's stack: LUA_ERRMEM says where the run was and the limit, others pass through.
  std::string error_text(lua_State* L, int status) const;
  // Wall time since the run began.
  double elapsed_s() const;
  // The hook raised the run's time budget error.
  bool timed_out() const { return timed_out_; }

 private:
  friend void lua_limit_hook(lua_State* L, lua_Debug* ar);
  lua_State* L_;
  const LuaMemory* memory_;
  double budget_s_;
  std::chrono::steady_clock::time_point start_, deadline_;
  // Where the last hook call found Lua: the chunk's short_src (copied only when the chunk
  // changes: the hook runs on every line) and the line.
  std::string where() const;
  char src_[LUA_IDSIZE] = "";
  const char* src_of_ = nullptr;
  int line_ = 0;
  bool timed_out_ = false;
  LuaRun* outer_;
  lua_Hook old_hook_;
  int old_mask_, old_count_;
};

// The hook LuaRun installs; also the REPL's between-chunks hook (no run: only the stop).
void lua_limit_hook(lua_State* L, lua_Debug* ar);
constexpr int kLuaHookCount = 1000;  // instructions between two checks

// Every Lua run stops at its next hook with "interrupted: drover is stopping", now and
// from now on. Async-signal-safe.
void stop_all_lua();
bool lua_stopping();

}  // namespace drover
