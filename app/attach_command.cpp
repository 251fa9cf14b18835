#include "app/attach_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "control/http_auth.h"
#include "engine/runtime_dir.h"
#include "shell/autoscale/autoscaler.h"
#include "app/control_socket.h"
#include "app/http_token.h"
#include "app/options.h"
#include "app/remote_target.h"
#include "shell/lua/lua_state.h"
#include "shell/lua/script_loader.h"
#include "shell/remote/remote_client.h"
#include "shell/repl/repl.h"

namespace drover {

int run_attach_command(int argc, char** argv) {
  auto parsed = parse_attach_options(args_of(argc, argv, 1));
  std::fputs(parsed.out.c_str(), stdout);
  std::fputs(parsed.err.c_str(), stderr);
  if (!parsed.options) return parsed.exit_code;
  const AttachOptions* args = &*parsed.options;
  Target target = find_target(args->address, "drover attach", "drover attach PID");
  if (!target.address) return target.rc;
  auto& address = target.address;
  if (Status s = add_token(*address, args->token_file); !s) {
    fmt::print(stderr, "drover attach: {}\n", s.message());
    return 1;
  }
  // Ctrl-C is the REPL's, on this thread: the threads started from here on (the event
  // stream, the autoscaler, the probes) must not take it (Repl unblocks it here again).
  sigset_t intr;
  sigemptyset(&intr);
  sigaddset(&intr, SIGINT);
  pthread_sigmask(SIG_BLOCK, &intr, nullptr);
  RemoteClient client(*address);
  const bool interactive = args->exprs.empty() || args->stay;
  // A shell says at once whether it got through. A one-shot -e skips the extra round trip
  // (a snapshot of 1000 workers is ~10 ms): its own first request says the same.
  if (interactive)
    if (Status s = client.check(); !s) {
      fmt::print(stderr, "drover attach: {}\n", s.message());
      return 1;
    }
  ShellContext ctx(client);
  ctx.script_dirs = {drover_data_dir()};
  ctx.color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  LuaState lua(ctx);
  std::optional<Autoscaler> autoscaler;
  autoscaler.emplace(ctx, lua.get());
  ctx.autoscaler = &*autoscaler;
  int rc = 0;
  {
    std::unique_lock hold(ctx.lua_lock);
    Repl::install_sigint_handler(ctx, lua);
    // Events above the prompt need the server's event stream; a one-shot -e does not.
    auto events = interactive ? client.subscribe(1000, {.events = true, .log_lines = false})
                              : std::make_shared<Subscription>(1, Subscription::Filter{});
    Repl repl(ctx, lua, events);
    bool ok = true;
    // --wait: the remote pools at their sizes before -e looks at them, as `drover
    // pools.lua --wait` waits for its own (help "settle"), or exit 1 with why.
    if (args->wait_s)
      ok = repl.eval_and_print(fmt::format("local ok, why = settle({}) if not ok then error(why, 0) end", *args->wait_s),
                               "=--wait") && ok;
    for (const auto& code : args->exprs) ok = repl.eval_and_print(code, "=(command line)") && ok;
    if (interactive) {
      if (!args->exprs.empty()) ctx.exit_requested = false;
      fmt::print(ctx.out, "attached to drover at {} (exit or Ctrl-D detaches)\n", client.describe());
      rc = repl.run();
    } else {
      rc = ok ? 0 : 1;
    }
  }
  autoscaler.reset();
  return rc;
}

}  // namespace drover
