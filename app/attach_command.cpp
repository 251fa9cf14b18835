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
#include "shell/lua/lua_state.h"
#include "shell/lua/script_loader.h"
#include "shell/remote/remote_client.h"
#include "shell/repl/repl.h"

namespace drover {

namespace {

// Where to attach, and an exit status when that cannot be said: see attach_command.h.
struct Target {
  std::optional<RemoteAddress> address;
  int rc = 0;
};

Target find_target(const std::string& spec) {
  const std::string base = runtime_base_dir();
  if (spec.empty()) {
    auto live = find_control_sockets(base);
    if (live.size() == 1) return {RemoteAddress{.unix_path = live[0].path}};
    if (live.empty()) {
      fmt::print(stderr, "drover attach: no drover of yours is running here (looked in {}); give HOST:PORT or a "
                 "socket path\n", base);
      return {std::nullopt, 1};
    }
    std::string list;
    for (const auto& s : live) list += fmt::format("  pid {}: {}\n", s.pid, s.path);
    fmt::print(stderr, "drover attach: {} drovers of yours are running here; say which: drover attach PID\n{}",
               live.size(), list);
    return {std::nullopt, 2};
  }
  // A number: a drover of ours by its pid when there is one, else a port (which it was
  // before drovers had control sockets, and is for a drover of another user).
  if (spec.find_first_not_of("0123456789") == std::string::npos && spec.size() < 10)
    if (auto path = control_socket_of(base, static_cast<pid_t>(std::stol(spec))))
      return {RemoteAddress{.unix_path = *path}};
  auto address = parse_remote_address(spec);
  if (!address) {
    fmt::print(stderr, "drover {}\n", address.error().message());
    return {std::nullopt, 2};
  }
  return {std::move(*address)};
}

// The same token rules as the server's: a file only its owner may read, or the variable,
// or else the token drover made for itself when this user has one. Over TCP only.
Status add_token(RemoteAddress& address, const std::string& token_file) {
  if (!address.unix_path.empty()) return Status::ok();
  if (!token_file.empty()) {
    auto token = read_token_file(token_file);
    if (!token) return token.error();
    address.token = *token;
  } else if (const char* t = std::getenv(kHttpTokenEnv); t && *t) {
    address.token = t;
  } else if (auto path = default_http_token_path()) {
    auto token = read_http_token_if_present(*path);
    if (!token) return token.error();
    address.token = *token;
  }
  return Status::ok();
}

}  // namespace

int run_attach_command(int argc, char** argv) {
  auto parsed = parse_attach_options(args_of(argc, argv, 1));
  std::fputs(parsed.out.c_str(), stdout);
  std::fputs(parsed.err.c_str(), stderr);
  if (!parsed.options) return parsed.exit_code;
  const AttachOptions* args = &*parsed.options;
  Target target = find_target(args->address);
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
