// drover: start the engine on a config and drop the operator into a Lua shell bound to it.
//
//   drover pools.lua                       engine + shell
//   drover --workers foo=2:bar=1 --cmd 'rq worker {queue}'
//   drover pools.lua -e 'status()'         run, print, then stop (-i: stay in the shell)
//   drover pools.lua --no-shell            engine only (for systemd); log to stderr
//
// Signals: TERM/QUIT stop gracefully (a second TERM kills at once); HUP reloads the config;
// INT stops gracefully with --no-shell, and interrupts the running command in the shell.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "engine/engine.h"
#include "engine/spec_string.h"
#include "control/http_auth.h"
#include "control/http_control.h"
#include "shell/config/resque_pool_config.h"
#include "shell/config/wpm_config.h"
#include "shell/attach_command.h"
#include "shell/heartbeat_command.h"
#include "shell/service_notify.h"
#include "shell/autoscale/autoscale_routes.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/autoscale/policy_config.h"
#include "shell/lua/config_loader.h"
#include "shell/lua/script_loader.h"
#include "shell/lua/lua_state.h"
#include "shell/repl/repl.h"

namespace {

constexpr const char* kUsage = R"(usage: drover [CONFIG.lua] [options]
       drover heartbeat [--status TEXT] [--busy|--idle] ...   one keep-alive from a worker script (-h)
       drover attach HOST:PORT [-e CODE]... [--token-file PATH]  the shell of a drover serving --http

  CONFIG.lua            pools defined in Lua: pool "name" { cmd = "...", n = 2 }
  --workers SPEC        pools as a spec string: foo=2:bar=2:baz,quux=5:*=1
  --cmd TEMPLATE        command for --workers and -c pools; {queue} is replaced ("rq worker {queue}")
  -c, --resque-pool YML resque-pool's config ("foo,bar": 2; sections by RACK_ENV/RAILS_ENV/RESQUE_ENV);
                        without --cmd the workers run `rake resque:work` (QUEUE and QUEUES set)
  --wpm-config JSON     workerpoolmanager's task config (path, filesuffix, keepalives, autotasks):
                        autotasks start, other tasks wait for start; keep-alives on its inbound_port;
                        its pidfile unless --pid-file
  --heartbeat ENDPOINT  bind the heartbeat socket here (repeatable; the first goes to the workers in
                        DROVER_HEARTBEAT; default ipc:// in a 0700 dir); --wpm-config's is bound too
  --wpm-compat          also bind tcp://127.0.0.1:5591, where workerpoolmanager's workers send
  --http [HOST:PORT]    serve HTTP: /healthz, /metrics, workerpoolmanager's /tasks routes and the JSON
                        API under /api/v1 (default 127.0.0.1:8010); beyond loopback a token is required
  --http-token-file PATH  the token HTTP clients send as `Authorization: Bearer TOKEN` (mode 0600 or
                        stricter); or DROVER_HTTP_TOKEN, which drover removes from its environment
  -e CODE               run Lua CODE in the shell and print its values, then stop (repeatable)
  -i                    with -e: stay in the interactive shell afterwards
  --script FILE         run a Lua file with the shell's commands, then stop
  --no-shell            engine only: log to stderr, stop on INT/TERM; sd_notify when NOTIFY_SOCKET is set
  --log PATH            append worker output and engine events to PATH (rotated by size)
  --pid-file PATH       write drover's pid to PATH while it runs
  --contain MODE        how each worker's whole tree is held, so nothing it starts outlives it or
                        drover: auto (default: cgroup where drover can create cgroups, else
                        subreaper), cgroup, subreaper, group (process groups only)
  -q, --quiet           with --no-shell: do not echo the log to stderr
  --version, -h/--help
Pool sources add up: CONFIG.lua, --workers, -c and --wpm-config may be combined (a Lua
config's defaults{} reach --workers and -c pools); a pool defined twice is an error.
Signals: INT/TERM/QUIT stop gracefully (twice: kill now), HUP re-reads every config file
(the heartbeat endpoints stay), TTIN/TTOU add/remove one worker per pool, USR1/USR2/CONT go
to every worker.
In the shell, Ctrl-C interrupts the running command; Ctrl-D or exit() stops drover.
)";

struct Args {
  std::string config;
  std::string workers, cmd;
  std::string resque_pool, wpm_config;
  std::vector<std::string> heartbeat_endpoints;
  std::string http, http_token_file;
  bool wpm_compat = false;
  std::string log_path, pid_file, script;
  std::vector<std::string> exprs;
  bool no_shell = false, stay = false, quiet = false;
  std::optional<drover::ContainMode> contain;
};

std::optional<Args> parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "drover: {} needs a value\n", arg);
        return false;
      }
      into = argv[++i];
      return true;
    };
    std::string expr;
    if (arg == "--workers") {
      if (!value(a.workers)) return std::nullopt;
    } else if (arg == "--cmd") {
      if (!value(a.cmd)) return std::nullopt;
    } else if (arg == "-c" || arg == "--resque-pool") {
      if (!value(a.resque_pool)) return std::nullopt;
    } else if (arg == "--wpm-config") {
      if (!value(a.wpm_config)) return std::nullopt;
    } else if (arg == "--heartbeat") {
      std::string ep;
      if (!value(ep)) return std::nullopt;
      a.heartbeat_endpoints.push_back(ep);
    } else if (arg == "--http") {
      // The address is optional: taken when the next argument reads as one, so that
      // `--http pools.lua` still means the default address and a config file.
      if (i + 1 < argc && drover::parse_listen_address(argv[i + 1])) a.http = argv[++i];
      else a.http = drover::kDefaultHttpAddress;
    } else if (arg == "--http-token-file") {
      if (!value(a.http_token_file)) return std::nullopt;
    } else if (arg == "--wpm-compat") {
      a.wpm_compat = true;
    } else if (arg == "--log") {
      if (!value(a.log_path)) return std::nullopt;
    } else if (arg == "--contain") {
      std::string mode;
      if (!value(mode)) return std::nullopt;
      if (!drover::contain_mode_from_name(mode, &a.contain)) {
        fmt::print(stderr, "drover: --contain takes auto, cgroup, subreaper or group, not '{}'\n", mode);
        return std::nullopt;
      }
    } else if (arg == "--pid-file") {
      if (!value(a.pid_file)) return std::nullopt;
    } else if (arg == "--script") {
      if (!value(a.script)) return std::nullopt;
    } else if (arg == "-e") {
      if (!value(expr)) return std::nullopt;
      a.exprs.push_back(expr);
    } else if (arg == "-i") {
      a.stay = true;
    } else if (arg == "--no-shell") {
      a.no_shell = true;
    } else if (arg == "-q" || arg == "--quiet") {
      a.quiet = true;
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      std::exit(0);
    } else if (arg == "--version") {
      fmt::print("drover 0.1.0\n");
      std::exit(0);
    } else if (!arg.empty() && arg[0] == '-') {
      fmt::print(stderr, "drover: unknown option '{}'\n{}", arg, kUsage);
      return std::nullopt;
    } else if (a.config.empty()) {
      a.config = arg;
    } else {
      fmt::print(stderr, "drover: one config file only (got '{}' and '{}')\n", a.config, arg);
      return std::nullopt;
    }
  }
  if (a.config.empty() && a.workers.empty() && a.resque_pool.empty() && a.wpm_config.empty()) {
    fmt::print(stderr, "drover: give a config file, --workers, -c or --wpm-config\n{}", kUsage);
    return std::nullopt;
  }
  if (!a.cmd.empty() && a.workers.empty() && a.resque_pool.empty()) {
    fmt::print(stderr, "drover: --cmd is the command of --workers and -c pools: give one of them\n");
    return std::nullopt;
  }
  return a;
}

drover::Result<std::vector<drover::PoolSpec>> load_pools(const Args& a) {
  std::vector<drover::PoolSpec> pools;
  drover::PoolSpec defaults;
  if (!a.config.empty()) {
    auto cfg = drover::load_config_file(a.config);
    if (!cfg) return cfg.error();
    pools = std::move(cfg->pools);
    defaults = cfg->defaults;
  }
  if (!a.workers.empty()) {
    auto entries = drover::parse_spec_string(a.workers);
    if (!entries) return entries.error();
    auto more = drover::pools_from_spec(*entries, a.cmd, defaults);
    if (!more) return more.error();
    for (auto& p : *more) pools.push_back(std::move(p));
  }
  if (!a.resque_pool.empty()) {
    auto more = drover::load_resque_pool_config(a.resque_pool, drover::resque_environment(), a.cmd, defaults);
    if (!more) return more.error();
    for (auto& p : *more) pools.push_back(std::move(p));
  }
  if (!a.wpm_config.empty()) {
    auto wpm = drover::load_wpm_config(a.wpm_config);
    if (!wpm) return wpm.error();
    for (auto& p : wpm->pools) pools.push_back(std::move(p));
  }
  return pools;
}

// The HTTP server's token: from --http-token-file or DROVER_HTTP_TOKEN (taken out of the
// environment already), never both.
drover::Result<drover::HttpOptions> http_options_from(const Args& a, const std::optional<std::string>& env_token) {
  drover::HttpOptions options;
  if (!a.http_token_file.empty() && env_token)
    return drover::Status::invalid(
        fmt::format("--http-token-file and {} both give a token: keep one", drover::kHttpTokenEnv));
  if (!a.http_token_file.empty()) {
    auto token = drover::read_token_file(a.http_token_file);
    if (!token) return token.error();
    options.token = std::move(*token);
  } else if (env_token) {
    if (auto s = drover::check_token(*env_token, drover::kHttpTokenEnv); !s) return s;
    options.token = *env_token;
  }
  if (!options.token.empty() && a.http.empty())
    fmt::print(stderr, "drover: an HTTP token is given but not --http: no server to use it\n");
  return options;
}

// The shell's Lua state and its autoscaler, for both modes: with --no-shell the config's
// policies run all the same. The Lua lock is held by the caller from here on, except
// where the REPL or a binding gives it up to let policies run.
struct LuaShell {
  LuaShell(drover::Engine& engine, const Args& args) : client(engine), ctx(client) {
    ctx.load_config = [&args] { return load_pools(args); };
    ctx.config_path = args.config;
    std::error_code ec;
    if (!args.config.empty())
      ctx.script_dirs.push_back(std::filesystem::absolute(args.config, ec).parent_path().string());
    ctx.script_dirs.push_back(drover::drover_data_dir());
    lua.emplace(ctx);
    autoscaler.emplace(ctx, lua->get());
    ctx.autoscaler = &*autoscaler;
    if (!args.config.empty())
      ctx.reload_policies = [this, path = args.config] { return drover::load_config_policies(ctx, *lua, path); };
  }
  ~LuaShell() {
    // The policies' thread stops before the state it runs in; it waits for the lock.
    drover::LuaUnlocked let_it_finish(ctx.lua_lock);
    autoscaler.reset();
  }
  drover::LocalClient client;
  drover::ShellContext ctx;
  std::optional<drover::LuaState> lua;
  std::optional<drover::Autoscaler> autoscaler;
};

// --no-shell: the main thread owns the config file and waits; the engine asks it to
// reload through an event (SIGHUP).
int run_engine_only(drover::Engine& engine, drover::Subscription& events,
                    const drover::ServiceNotify& notify, LuaShell& shell) {
  while (!engine.finished()) {
    auto item = events.pop(std::chrono::milliseconds(200));
    if (!item) continue;
    auto* ev = std::get_if<drover::Event>(&*item);
    if (!ev) continue;
    // The event is published a moment before finished() turns true: leave on it, not 200 ms later.
    if (ev->kind == drover::EventKind::kShutdownFinished) break;
    if (ev->kind == drover::EventKind::kShutdownStarted) notify.send("STOPPING=1");
    if (ev->kind != drover::EventKind::kReloadRequested) continue;
    notify.send("RELOADING=1");
    std::lock_guard hold(shell.ctx.lua_lock);
    drover::Status s = drover::reload_config(shell.ctx);
    if (!s) fmt::print(stderr, "drover: reload failed, keeping the running config: {}\n", s.message());
    notify.send(s ? "READY=1" : fmt::format("READY=1\nSTATUS=reload failed: {}", s.message()));
  }
  return 0;
}

int run_shell(drover::Engine& engine, const Args& args, std::shared_ptr<drover::Subscription> events,
              LuaShell& shell) {
  drover::ShellContext& ctx = shell.ctx;
  drover::LuaState& lua = *shell.lua;
  ctx.color = isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR");
  drover::Repl::install_sigint_handler(ctx, lua);
  drover::Repl repl(ctx, lua, std::move(events));
  bool ok = true;
  if (!args.script.empty()) {
    if (auto s = lua.run_file(args.script); !s) {
      fmt::print(stderr, "drover: {}\n", s.message());
      ok = false;
    }
  }
  for (size_t i = 0; i < args.exprs.size(); ++i) ok = repl.eval_and_print(args.exprs[i], "=(command line)") && ok;
  bool batch = !args.script.empty() || !args.exprs.empty();
  if (batch && !args.stay) {
    if (!ctx.exit_requested) {
      engine.shutdown();
      engine.wait_finished(drover::Duration::max());
    }
    return ok ? 0 : 1;
  }
  return repl.run();
}

}  // namespace

int main(int argc, char** argv) {
  // At most two malloc arenas. glibc gives each thread that allocates an arena of its own,
  // up to 8 per core; drover's HTTP threads each build a snapshot's JSON now and then,
  // and 20 status queries left 7 MB of arenas behind (24 MB RSS against 17 MB with two).
  // Allocation is nowhere near contended enough here for more to pay.
  mallopt(M_ARENA_MAX, 2);
  // A subcommand for worker scripts, run before anything of the engine's (signal blocking).
  if (argc >= 2 && std::string(argv[1]) == "heartbeat") return drover::run_heartbeat_command(argc - 1, argv + 1);
  // The shell of a drover elsewhere: no engine here.
  if (argc >= 2 && std::string(argv[1]) == "attach") {
    signal(SIGPIPE, SIG_IGN);
    return drover::run_attach_command(argc - 1, argv + 1);
  }
  // Before any thread exists: the engine reads these from a signalfd.
  drover::block_engine_signals();
  signal(SIGPIPE, SIG_IGN);

  // Taken (and removed from the environment) before any worker could inherit them, and
  // before any thread exists (unsetenv is not thread-safe).
  const auto notify = drover::ServiceNotify::from_environment();
  const std::optional<std::string> env_token = drover::take_token_from_environment();

  auto args = parse_args(argc, argv);
  if (!args) return 2;
  auto pools = load_pools(*args);
  if (!pools) {
    fmt::print(stderr, "drover: {}\n", pools.error().message());
    return 1;
  }

  drover::EngineOptions options;
  options.log_path = args->log_path;
  options.containment = args->contain;
  options.handle_signals = true;
  options.leave_sigint = !args->no_shell;  // in the shell, Ctrl-C belongs to the REPL
  options.echo_fd = args->no_shell && !args->quiet ? STDERR_FILENO : -1;
  options.heartbeat_endpoints = args->heartbeat_endpoints;
  auto also_bind = [&](const std::string& endpoint) {
    auto& list = options.heartbeat_endpoints;
    if (std::find(list.begin(), list.end(), endpoint) == list.end()) list.push_back(endpoint);
  };
  if (!args->wpm_config.empty()) {
    // Its workers send where the JSON says, hard-wired: that endpoint is always bound, even
    // next to --heartbeat. Alone, it is the workers' DROVER_HEARTBEAT too; next to other
    // pool sources, theirs keep the private ipc socket first. Read once (load_pools read it
    // a moment ago): a reload cannot move a socket.
    auto wpm = drover::load_wpm_config(args->wpm_config);
    if (!wpm) {
      fmt::print(stderr, "drover: {}\n", wpm.error().message());
      return 1;
    }
    const bool alone = args->config.empty() && args->workers.empty() && args->resque_pool.empty();
    if (options.heartbeat_endpoints.empty() && !alone) options.heartbeat_endpoints.push_back("");
    also_bind(wpm->heartbeat_endpoint);
    if (args->pid_file.empty()) args->pid_file = wpm->pidfile;
  }
  if (args->wpm_compat) {
    // Workers of ours still get a private ipc socket first; wpm's find theirs on 5591.
    if (options.heartbeat_endpoints.empty()) options.heartbeat_endpoints.push_back("");
    also_bind(drover::kWpmHeartbeatEndpoint);
  }
  auto http_options = http_options_from(*args, env_token);
  if (!http_options) {
    fmt::print(stderr, "drover: {}\n", http_options.error().message());
    return 1;
  }
  std::optional<drover::Engine> engine;
  try {
    engine.emplace(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "drover: cannot start the engine: {}\n", e.what());
    return 1;
  }
  if (!args->pid_file.empty()) std::ofstream(args->pid_file) << getpid() << "\n";
  // Declared after the engine, so it stops serving before the engine goes.
  std::optional<drover::HttpControl> http;
  // The autoscale routes reach the shell's Autoscaler once it exists (below), and no more
  // once it is gone; until then they answer 503.
  auto autoscale_routes = std::make_shared<drover::AutoscaleRoutesTarget>();
  if (!args->http.empty()) {
    auto where = drover::parse_listen_address(args->http);
    // A keep-alive comment every second: `drover attach` notices a closed follow by it.
    http_options->keepalive = std::chrono::seconds(1);
    if (where) http.emplace(*engine, *http_options).set_autoscale_hooks(drover::make_autoscale_hooks(autoscale_routes));
    drover::Status s = where ? http->start(where->first, where->second) : where.error();
    if (!s) {
      fmt::print(stderr, "drover: {}\n", s.message());
      return 1;
    }
    // One line, even with -q: with port 0 this is the only way to learn the port.
    fmt::print(stderr, "drover: serving http://{}:{}/{}\n", where->first, http->port(),
               http_options->token.empty() ? "" : " (bearer token required)");
  }
  // Subscribe before the pools start, so no event (a SIGHUP's reload request) is missed.
  auto events = engine->subscribe(1000, {.events = true, .log_lines = false});
  int rc = 0;
  if (auto s = engine->apply(std::move(*pools)); !s) {
    fmt::print(stderr, "drover: {}\n", s.message());
    rc = 1;
  } else {
    LuaShell shell(*engine, *args);
    struct RoutesToShell {  // for as long as the shell lives
      drover::AutoscaleRoutesTarget& t;
      RoutesToShell(drover::AutoscaleRoutesTarget& target, drover::ShellContext& ctx) : t(target) {
        std::lock_guard lock(t.mu);
        t.ctx = &ctx;
      }
      ~RoutesToShell() {
        std::lock_guard lock(t.mu);
        t.ctx = nullptr;
      }
    } routes_to_shell(*autoscale_routes, shell.ctx);
    std::unique_lock hold(shell.ctx.lua_lock);
    shell.autoscaler->sync_pool_registries();  // the pools' `busy` fields
    drover::Status policies = args->config.empty() ? drover::Status::ok()
                                                   : drover::load_config_policies(shell.ctx, *shell.lua, args->config);
    if (!policies) {
      fmt::print(stderr, "drover: {}\n", policies.message());
      rc = 1;
    } else {
      notify.send(fmt::format("READY=1\nMAINPID={}", getpid()));
      if (args->no_shell) {
        hold.unlock();  // the policies have the state to themselves
        rc = run_engine_only(*engine, *events, notify, shell);
      } else {
        rc = run_shell(*engine, *args, events, shell);
      }
    }
  }
  notify.send("STOPPING=1");
  http.reset();
  engine.reset();  // graceful: every worker stopped and reaped
  if (!args->pid_file.empty()) unlink(args->pid_file.c_str());
  return rc;
}
