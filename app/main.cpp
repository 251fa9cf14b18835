// drover: start the engine on a config and drop the operator into a Lua shell bound to it.
//
//   drover pools.lua                       engine + shell
//   drover --workers foo=2:bar=1 --cmd 'rq worker {queues}'
//   drover pools.lua -e 'status()'         run, print, then stop (-i: stay in the shell)
//   drover pools.lua --no-shell            engine only (for systemd); log to stderr
//
// Signals: TERM/QUIT stop gracefully (a second TERM kills at once); HUP reloads the config;
// INT stops gracefully with --no-shell, and interrupts the running command in the shell.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "api/local_client.h"
#include "engine/engine.h"
#include "engine/runtime_dir.h"
#include "engine/spec_string.h"
#include "control/http_auth.h"
#include "control/http_control.h"
#include "config/resque_pool_config.h"
#include "config/wpm_config.h"
#include "app/attach_command.h"
#include "app/enqueue_command.h"
#include "app/control_socket.h"
#include "app/http_token.h"
#include "app/options.h"
#include "app/taskmanager_schedule.h"
#include "app/heartbeat_command.h"
#include "app/job_command.h"
#include "app/service_notify.h"
#include "app/stop_watch.h"
#include "shell/autoscale/autoscale_routes.h"
#include "shell/autoscale/autoscaler.h"
#include "shell/autoscale/policy_config.h"
#include "shell/lua/config_loader.h"
#include "shell/lua/script_loader.h"
#include "shell/lua/lua_limits.h"
#include "shell/lua/lua_state.h"
#include "app/pid_file.h"
#include "shell/repl/repl.h"

namespace {

// Every pool source together: what the config file's run defined (`lua`, null without
// one), then --workers, -c and --wpm-config.
drover::Result<std::vector<drover::PoolSpec>> load_pools(const drover::Options& a, drover::LoadedConfig* lua) {
  std::vector<drover::PoolSpec> pools;
  drover::PoolSpec defaults;
  if (lua) {
    pools = std::move(lua->pools);
    defaults = lua->defaults;
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
drover::Result<drover::HttpOptions> http_options_from(const drover::Options& a, const std::optional<std::string>& env_token) {
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
  options.allowed_hosts = a.http_hosts;
  return options;
}

// The shell's Lua state and its autoscaler, for both modes: with --no-shell the config's
// policies run all the same. Made before the engine, on a LocalClient it joins later: the config file
// runs here, once (ConfigRun), and its pools start the engine. The Lua lock is held by the
// caller from here on, except where the REPL or a binding gives it up to let policies run.
struct LuaShell {
  LuaShell(drover::LocalClient& engine_client, const drover::Options& args) : client(engine_client), ctx(client) {
    ctx.load_config = [&args, this]() -> drover::Result<std::vector<drover::PoolSpec>> {
      staged.reset();
      std::optional<drover::LoadedConfig> lua_config;
      if (!args.config.empty()) {
        staged.emplace(ctx, *lua);
        auto ran = staged->run(args.config);
        if (!ran) {
          staged.reset();
          return ran.error();
        }
        lua_config = std::move(*ran);
      }
      const bool no_pools = lua_config && lua_config->no_pools;
      // The schedules the config and --schedule define, for finish_config to define.
      ctx.config_schedules.clear();
      if (lua_config) ctx.config_schedules = lua_config->schedules;
      if (!args.schedule_file.empty()) {
        auto more = drover::load_taskmanager_schedules(args.schedule_file);
        if (!more) {
          staged.reset();
          return more.error();
        }
        ctx.config_schedules.insert(ctx.config_schedules.end(), more->begin(), more->end());
      }
      auto pools = load_pools(args, lua_config ? &*lua_config : nullptr);
      drover::Status s = !pools ? pools.error() : staged ? staged->check_pools(*pools) : drover::Status::ok();
      // An emptied file (a deploy cut short, an editor's truncation) would stop every
      // worker; a config that means it says so.
      const auto live = client.snapshot();
      if (s && pools->empty() && !no_pools && live && !live->pools.empty())
        s = drover::Status::invalid(fmt::format(
            "{} defines no pool, and a reload would remove every running pool: refused (a config that means it "
            "says no_pools())",
            args.config.empty() ? "the configuration" : args.config));
      if (!s) {
        staged.reset();  // the run's policies go with it
        return s;
      }
      return pools;
    };
    ctx.finish_config = [this](bool applied) {
      if (staged && applied) staged->commit();
      staged.reset();
      // The pools run: the schedules go to the job queue (opened here if need be). A
      // refusal is reported; the pools stay applied.
      if (applied)
        for (const auto& sched : ctx.config_schedules)
          if (auto made = client.define_schedule(sched); !made)
            fmt::print(stderr, "drover: {}\n", made.error().message());
    };
    ctx.config_path = args.config;
    std::error_code ec;
    if (!args.config.empty())
      ctx.script_dirs.push_back(std::filesystem::absolute(args.config, ec).parent_path().string());
    ctx.script_dirs.push_back(drover::drover_data_dir());
    lua.emplace(ctx);
    autoscaler.emplace(ctx, lua->get());
    ctx.autoscaler = &*autoscaler;
    client.serve_autoscale(&*autoscaler);
  }
  ~LuaShell() {
    {
      // A run never finished (drover stopped while starting): its policies are dropped.
      std::unique_lock<drover::LuaLock> hold(ctx.lua_lock, std::defer_lock);
      if (!ctx.lua_lock.held_here()) hold.lock();
      staged.reset();
    }
    // The policies' thread stops before the state it runs in; it waits for the lock.
    drover::LuaUnlocked let_it_finish(ctx.lua_lock);
    client.serve_autoscale(nullptr);
    autoscaler.reset();
  }
  drover::LocalClient& client;
  drover::ShellContext ctx;
  std::optional<drover::LuaState> lua;
  std::optional<drover::Autoscaler> autoscaler;
  std::optional<drover::ConfigRun> staged;  // between load_config and finish_config
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

int run_shell(drover::Engine& engine, const drover::Options& args, std::shared_ptr<drover::Subscription> events,
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
  // --wait: the pools at their sizes before -e looks at them (a health check), or exit 1 with why.
  if (args.wait_s)
    ok = repl.eval_and_print(fmt::format("local ok, why = settle({}) if not ok then error(why, 0) end", *args.wait_s),
                             "=--wait") && ok;
  for (size_t i = 0; i < args.exprs.size(); ++i) ok = repl.eval_and_print(args.exprs[i], "=(command line)") && ok;
  bool batch = !args.script.empty() || !args.exprs.empty();
  if (!batch) repl.show_start_view(2);
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
  if (argc >= 2 && std::string(argv[1]) == "job") return drover::run_job_command(argc - 1, argv + 1);
  // Jobs for a running drover's queue: no engine here either.
  if (argc >= 2 && std::string(argv[1]) == "enqueue") {
    signal(SIGPIPE, SIG_IGN);
    return drover::run_enqueue_command(argc - 1, argv + 1);
  }
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

  auto parsed = drover::parse_options(drover::args_of(argc, argv, 1));
  std::fputs(parsed.out.c_str(), stdout);
  std::fputs(parsed.err.c_str(), stderr);
  if (!parsed.options) return parsed.exit_code;
  std::optional<drover::Options>& args = parsed.options;
  drover::lua_limit_settings() = args->lua;
  // The shell first, on a client the engine joins once it runs: the config file runs in
  // the shell's state, once, and its pools (and settings) start the engine.
  drover::LocalClient client;
  std::optional<LuaShell> shell;
  shell.emplace(client, *args);
  std::unique_lock hold(shell->ctx.lua_lock);
  drover::Result<std::vector<drover::PoolSpec>> pools = drover::Status::invalid("not read");
  {
    drover::StartupSignals watch;
    pools = shell->ctx.load_config();
    if (int sig = watch.signal()) {
      fmt::print(stderr, "drover: {} while reading the config: stopped\n", sigabbrev_np(sig));
      return 128 + sig;
    }
  }
  // The config's jobs{...}, where the command line said nothing, before the queue opens.
  drover::merge_job_settings(*args, shell->ctx.jobs_settings);
  shell->ctx.jobs_settings_read = true;
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
  std::string http_from;  // where the HTTP address came from, when not --http
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
    // Its console (wpconsole) and scripts reach it at "port": serve there, on loopback
    // only (workerpoolmanager bound every interface, without any authentication). --http
    // says otherwise when given.
    if (args->http.empty() && wpm->http_port) {
      args->http = fmt::format("127.0.0.1:{}", *wpm->http_port);
      http_from = fmt::format("{}: port {}", args->wpm_config, *wpm->http_port);
    }
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
  // TCP always takes a token (issue 12). None given, on loopback: the one this user's
  // drovers keep, made on first use, where `drover attach` finds it. Beyond loopback the
  // operator chooses the token and hands it out; the server refuses to go without one.
  std::string token_path;
  if (auto where = drover::parse_listen_address(args->http);
      where && http_options->token.empty() && drover::is_loopback_host(where->first)) {
    auto path = drover::default_http_token_path();
    auto token = path ? drover::read_or_create_http_token(*path) : drover::Result<std::string>(path.error());
    if (!token) {
      fmt::print(stderr, "drover: {}\n", token.error().message());
      return 1;
    }
    http_options->token = std::move(*token);
    token_path = *path;
  }
  // This drover's directory for local sockets (heartbeats; its control socket), removing
  // what killed drovers left behind. Declared before the engine: it goes after it.
  auto runtime = drover::RuntimeDir::create("");
  if (!runtime) {
    fmt::print(stderr, "drover: {}\n", runtime.error().message());
    return 1;
  }
  options.runtime_dir = (*runtime)->path();
  std::optional<drover::Engine> engine;
  try {
    engine.emplace(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "drover: cannot start the engine: {}\n", e.what());
    return 1;
  }
  client.attach(*engine);
  // The last hour, a sample a second (history(), /api/v1/history, the dashboard), kept by
  // a thread of its own reading snapshots. After the engine, so it goes first.
  drover::HistoryRing history;
  drover::HistorySampler history_sampler(history, [&engine]() -> std::optional<drover::EngineSnapshot> {
    try {
      return engine->snapshot();
    } catch (const std::exception&) {
      return std::nullopt;  // the engine has finished: nothing more to sample
    }
  }, std::chrono::seconds(1), /*usage=*/true);
  client.serve_history(&history);
  // The job queue, opened on first use, or below when a pool runs jobs (so that what the
  // last run left running is queued again before anything claims). Declared after the
  // engine, so it goes first; the shell and HTTP, which use it, go before it.
  std::mutex jobs_mu;
  std::unique_ptr<drover::jobs::JobService> job_service;
  std::string http_address;  // under jobs_mu: where --http serves, for the fleet's view of this host
  client.serve_jobs([&]() -> drover::Result<drover::jobs::JobService*> {
    std::lock_guard lock(jobs_mu);
    if (job_service) return job_service.get();
    // A shared PostgreSQL store needs no state directory: none is asked for then.
    auto dir = !args->state_dir.empty() || !args->jobs_store.empty() ? drover::Result<std::string>(args->state_dir)
                                                                      : drover::jobs::default_state_dir();
    if (!dir) return dir.error();
    drover::jobs::JobServiceOptions jo;
    jo.state_dir = *dir;
    jo.store_url = args->jobs_store;
    jo.host = args->host_name;
    jo.lease = std::chrono::milliseconds(static_cast<int64_t>(args->host_lease_s * 1000));
    jo.http_address = http_address;
    jo.retention.max_finished = args->jobs_keep;
    jo.retention.max_age_s = args->jobs_keep_for_s;
    jo.durability = drover::jobs::durability_from_name(args->jobs_durability).value_or(drover::jobs::Durability::kNormal);
    auto opened = drover::jobs::JobService::open(*engine, std::move(jo));
    if (!opened) return opened.error();
    job_service = std::move(*opened);
    if (size_t n = job_service->recovered())
      fmt::print(stderr, "drover: job queue {}: {} job{} the last run left running queued again\n", job_service->path(), n,
                 n == 1 ? "" : "s");
    return job_service.get();
  });
  // Whichever way main ends from here, the shell (its autoscaler's threads) goes before the engine.
  struct ShellFirst {
    std::optional<LuaShell>& shell;
    std::unique_lock<drover::LuaLock>& hold;
    ~ShellFirst() {
      if (hold.owns_lock()) hold.unlock();
      shell.reset();
    }
  } shell_first{shell, hold};
  std::optional<drover::PidFile> pid_file;
  if (!args->pid_file.empty()) {
    auto made = drover::PidFile::create(args->pid_file);
    if (!made) {
      fmt::print(stderr, "drover: {}\n", made.error().message());
      return 1;
    }
    pid_file.emplace(std::move(*made));
  }
  // Destroyed before the engine (declared after it); main says it is done at the end.
  std::optional<drover::StopWatch> stop_watch;
  stop_watch.emplace(*engine, [&pid_file] {
    if (pid_file) pid_file->remove_if_ours();
  });
  // Declared after the engine, so it stops serving before the engine goes.
  std::optional<drover::HttpControl> http;
  // The autoscale routes reach the shell's Autoscaler once it exists (below), and no more
  // once it is gone; until then they answer 503.
  auto autoscale_routes = std::make_shared<drover::AutoscaleRoutesTarget>();
  // A keep-alive comment every second: `drover attach` notices a closed follow by it.
  http_options->keepalive = std::chrono::seconds(1);
  http_options->wpm_compat = args->wpm_compat;
  http_options->tasker_compat = args->tasker_compat;
  http.emplace(*engine, *http_options).set_autoscale_hooks(drover::make_autoscale_hooks(autoscale_routes));
  http->set_api_client(&client);  // the job and history routes: as the local shell reaches them
  // Every drover, --http or not, serves its API on the control socket in its runtime
  // directory (0700; the socket 0600, peers checked by uid), where `drover attach` with no
  // address (or a PID) finds it: the owner's way in, with no token to hand around.
  if (drover::Status s = http->start_unix(drover::control_socket_path(**runtime)); !s) {
    fmt::print(stderr, "drover: the control socket: {}\n", s.message());
    return 1;
  }
  if (!args->http.empty()) {
    auto where = drover::parse_listen_address(args->http);
    drover::Status s = where ? http->start(where->first, where->second) : where.error();
    if (!s) {
      if (http_from.empty()) fmt::print(stderr, "drover: {}\n", s.message());
      else fmt::print(stderr, "drover: {}: {}\n", http_from, s.message());
      return 1;
    }
    {
      std::lock_guard lock(jobs_mu);
      http_address = fmt::format("{}:{}", where->first, http->port());
      if (job_service) job_service->set_http_address(http_address);
    }
    // One line, even with -q: with port 0 this is the only way to learn the port.
    fmt::print(stderr, "drover: serving http://{}:{}/{}\n", where->first, http->port(),
               !token_path.empty()               ? fmt::format(" (bearer token in {})", token_path)
               : http_options->token.empty()     ? ""
                                                 : " (bearer token required)");
  }
  // Subscribe before the pools start, so no event (a SIGHUP's reload request) is missed.
  auto events = engine->subscribe(1000, {.events = true, .log_lines = false});
  int rc = 0;
  if (std::any_of(pools->begin(), pools->end(), [](const drover::PoolSpec& p) { return p.jobs; }))
    if (auto q = client.job_stats(); !q) {
      fmt::print(stderr, "drover: the job queue: {}\n", q.error().message());
      return 1;
    }
  auto applied = engine->apply(std::move(*pools));
  if (applied) shell->autoscaler->sync_pool_registries();  // the pools' `busy` fields
  shell->ctx.finish_config(applied.is_ok());                   // the config's policies, now that its pools run
  if (!applied && applied.code() == drover::Status::Code::kUnavailable && engine->finished()) {
    // TERM/INT/QUIT came while drover was starting: the stop it asked for, not an error.
    fmt::print(stderr, "drover: stopped while starting\n");
  } else if (!applied) {
    fmt::print(stderr, "drover: {}\n", applied.message());
    rc = 1;
  } else {
    struct RoutesToShell {  // for as long as the shell runs
      drover::AutoscaleRoutesTarget& t;
      RoutesToShell(drover::AutoscaleRoutesTarget& target, drover::ShellContext& ctx) : t(target) {
        std::lock_guard lock(t.mu);
        t.ctx = &ctx;
      }
      ~RoutesToShell() {
        std::lock_guard lock(t.mu);
        t.ctx = nullptr;
      }
    } routes_to_shell(*autoscale_routes, shell->ctx);
    notify.send(fmt::format("READY=1\nMAINPID={}", getpid()));
    if (args->no_shell) {
      hold.unlock();  // the policies have the state to themselves
      rc = run_engine_only(*engine, *events, notify, *shell);
    } else {
      rc = run_shell(*engine, *args, events, *shell);
    }
  }
  notify.send("STOPPING=1");
  if (hold.owns_lock()) hold.unlock();
  shell.reset();
  http.reset();
  stop_watch.reset();
  // The job queue goes before the engine it is hooked into (it was made after it), but
  // only once the engine has stopped: the ends of the jobs the stop interrupts are then
  // recorded (a retry, attempt counted) rather than found running at the next start.
  if (job_service) {
    engine->shutdown();
    engine->wait_finished(drover::Duration::max());
    job_service.reset();
  }
  engine.reset();  // graceful: every worker stopped and reaped
  pid_file.reset();  // removed if it still holds our pid
  return rc;
}
