// Repl: the read-eval-print loop of lua.c, bound to an engine.
//
// Read a line; if "return LINE" compiles, evaluate that (so expressions print their
// values); otherwise compile LINE, and while the error says the chunk ended early
// (<eof>), read more on a ">>" prompt. Run it with Ctrl-C armed to stop it, print the
// results, keep going whatever happened. Engine events are printed above the prompt
// between keystrokes. Ends on Ctrl-D or exit(), after a graceful shutdown.
//
// Thread: the main thread, which alone handles SIGINT in shell mode.
#pragma once

#include <memory>
#include <string>

#include "shell/lua/lua_state.h"
#include "shell/lua/shell_context.h"

namespace drover {

class Repl {
 public:
  // events: the engine's event subscription, taken before the pools started.
  Repl(ShellContext& ctx, LuaState& lua, std::shared_ptr<Subscription> events);
  ~Repl();

  // Runs until end of input or exit(). Returns the process exit status.
  int run();
  // Evaluates one chunk as the REPL would and prints its results (for -e). False on error.
  bool eval_and_print(const std::string& code, const std::string& chunk_name);
  // What resque-pool-dynamic shows at start: once the pools have had up to settle_s to
  // come up (settle()), the status and the process tree.
  void show_start_view(double settle_s);

  // Installs the SIGINT handler that interrupts the running chunk (without SA_RESTART).
  static void install_sigint_handler(ShellContext& ctx, LuaState& lua);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The history file: $XDG_STATE_HOME/drover/history, or ~/.local/state/drover/history.
std::string default_history_path();

}  // namespace drover
