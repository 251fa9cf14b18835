// Building and running the shell's Lua state (the parts of lua.c that are not the REPL):
// a state with the standard library and drover's bindings, a message handler that adds
// a traceback, and the Ctrl-C hook that stops a running chunk. The state's memory is
// capped (lua_limits.h), and its os.exit is drover's graceful exit(), never a bare exit.
#pragma once

#include <lua.hpp>

#include <string>

#include "engine/status.h"
#include "shell/lua/lua_limits.h"
#include "shell/lua/shell_context.h"

namespace drover {

// Owns a lua_State with the standard libraries and every binding installed.
class LuaState {
 public:
  explicit LuaState(ShellContext& ctx);
  ~LuaState();
  LuaState(const LuaState&) = delete;
  LuaState& operator=(const LuaState&) = delete;

  lua_State* get() const { return L_; }
  const LuaMemory& memory() const { return memory_; }

  // lua.c's docall: calls the function below `nargs` arguments on the stack with a
  // traceback message handler, under a LuaRun (budget_s = 0: no time limit; line events
  // for the place of a memory error, at some cost to tight loops). On error
  // leaves the message string on the stack (a memory error's names the place and limit).
  int call(int nargs, int nresults, double budget_s = 0, bool line_events = true);
  // Loads and runs a file or a string; the error message names the chunk and line.
  Status run_file(const std::string& path);
  Status run_string(const std::string& code, const std::string& chunk_name);

  // From a signal handler: stop the running chunk at its next instruction (lua.c's
  // laction). Safe because lua_sethook is documented as signal-safe.
  void interrupt();

 private:
  LuaMemory memory_;  // before L_: it outlives the state
  lua_State* L_;
};

// Installs every binding of all_bindings() into L's globals and registers ctx.
void install_bindings(lua_State* L, ShellContext& ctx);

}  // namespace drover
