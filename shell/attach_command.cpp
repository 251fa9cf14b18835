#include "shell/attach_command.h"

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
#include "shell/autoscale/autoscaler.h"
#include "shell/lua/lua_state.h"
#include "shell/lua/script_loader.h"
#include "shell/remote/remote_client.h"
#include "shell/repl/repl.h"

namespace drover {

namespace {

constexpr const char* kUsage =
    "usage: drover attach HOST:PORT [-e CODE]... [-i] [--token-file PATH]\n"
    "  the shell of a running drover (started with --http); exit or Ctrl-D detaches\n";

struct AttachArgs {
  std::string address;
  std::vector<std::string> exprs;
  bool stay = false;
  std::string token_file;
};

std::optional<AttachArgs> parse(int argc, char** argv) {
  AttachArgs a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "-e") {
      auto v = value();
      if (!v) return std::nullopt;
      a.exprs.push_back(*v);
    } else if (arg == "-i") {
      a.stay = true;
    } else if (arg == "--token-file") {
      auto v = value();
      if (!v) return std::nullopt;
      a.token_file = *v;
    } else if (arg == "-h" || arg == "--help") {
      return std::nullopt;
    } else if (a.address.empty() && arg[0] != '-') {
      a.address = arg;
    } else {
      fmt::print(stderr, "drover attach: unknown argument {}\n", arg);
      return std::nullopt;
    }
  }
  if (a.address.empty()) return std::nullopt;
  return a;
}

}  // namespace

int run_attach_command(int argc, char** argv) {
  auto args = parse(argc, argv);
  if (!args) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  auto address = parse_remote_address(args->address);
  if (!address) {
    fmt::print(stderr, "drover {}\n", address.error().message());
    return 2;
  }
  // The same token rules as the server's: a file only its owner may read, or the variable.
  if (!args->token_file.empty()) {
    auto token = read_token_file(args->token_file);
    if (!token) {
      fmt::print(stderr, "drover attach: {}\n", token.error().message());
      return 1;
    }
    address->token = *token;
  } else if (const char* t = std::getenv(kHttpTokenEnv); t && *t) {
    address->token = t;
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
